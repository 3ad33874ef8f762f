import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WebSocket } from 'ws';
import { ParleyClient, ParleySocket, type ParleySocketOptions } from '@parley/client';
import { waitFor, type Running } from '@parley/common';
import { runStandalone } from './app.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'violet kettle 42 harbour';

/**
 * Waits until a JavaScript expression holds in the page (the browser polls it every 50 ms) and
 * names the condition on timeout. Expressions are strings: this file has no DOM types.
 */
async function until(page: Page, what: string, expression: string, ms = 20_000): Promise<void> {
  try {
    // A function (compiled here, sent over CDP) rather than a string, which the page's CSP forbids to eval.
    await page.waitForFunction(inPage(expression), undefined, { timeout: ms, polling: 50 });
  } catch (err) {
    const status = await page.locator('#status').textContent();
    throw new Error(`${what}: not within ${ms} ms (page status: ${status})\n${(err as Error).message}`);
  }
}

const inPage = (expression: string) => new Function(`return (${expression});`) as () => unknown;
const q = JSON.stringify;
/** Expression: some element matching `selector` contains `text`. */
const shows = (selector: string, text: string) =>
  `[...document.querySelectorAll(${q(selector)})].some((e) => e.textContent.includes(${q(text)}))`;
/** Expression: the receipt mark of my message `body`. */
const receipt = (body: string) =>
  `[...document.querySelectorAll('#messages li.mine')].find((li) => li.textContent.includes(${q(body)}))?.querySelector('.receipt')?.dataset.receipt`;
/** Expression: the conversation list entry titled `title`. */
const entry = (title: string) =>
  `[...document.querySelectorAll('#conversations li')].find((li) => li.querySelector('.name')?.textContent === ${q(title)})`;

describe('web demo: two users chat in real time in Chromium (embedded mode)', function () {
  this.timeout(180_000);
  let running: Running;
  let dir: string;
  let browser: Browser;
  const problems: string[] = [];
  const id = randomBytes(3).toString('hex');
  const alice = `alice_${id}`;
  const bob = `bob_${id}`;
  let a: Page;
  let b: Page;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-web-'));
    running = await runStandalone({
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      // The history test sends 35 messages at once, beyond the default send limit.
      SEND_RATE_PER_MINUTE: '100000',
    });
    await running.ready;
    // launch() gives the browser a fresh temporary profile, removed on close.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const open = async (who: string) => {
      const page = await (await browser.newContext()).newPage();
      page.on('pageerror', (err) => problems.push(`${who} page error: ${err.message}`));
      page.on('console', (m) => {
        // A CSP violation or a failed script shows up as a console error.
        if (m.type() === 'error') problems.push(`${who} console: ${m.text()}`);
      });
      await page.goto(running.url + '/');
      return page;
    };
    [a, b] = await Promise.all([open('alice'), open('bob')]);
  });

  after(async () => {
    await browser?.close();
    await running?.stop('test');
    rmSync(dir, { recursive: true, force: true });
  });

  async function register(page: Page, username: string): Promise<void> {
    await page.locator('#username').fill(username);
    await page.locator('#password').fill(PASSWORD);
    await page.locator('#register').click();
    await until(
      page,
      `${username} signed in`,
      `document.getElementById('me').textContent === ${q(username)}`,
    );
    await until(
      page,
      `${username} connected`,
      `document.getElementById('status').textContent === 'connected'`,
    );
  }

  it('serves the page with a strict Content-Security-Policy and no inline script', async () => {
    const res = await fetch(running.url + '/');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).to.include("script-src 'self'");
    expect(csp).to.match(/connect-src 'self' ws:\/\/127\.0\.0\.1:\d+ wss:\/\/127\.0\.0\.1:\d+/);
    expect(csp).to.not.include('unsafe-inline');
    const html = await res.text();
    expect(html).to.not.match(/<script(?![^>]*\bsrc=)[^>]*>/);
    const js = await fetch(running.url + '/demo/app.js');
    expect(js.status).to.equal(200);
    expect(js.headers.get('content-type')).to.match(/javascript/);
  });

  it('registers two users', async () => {
    await Promise.all([register(a, alice), register(b, bob)]);
  });

  it('starts a direct chat: the other side sees it appear with an unread count, marked delivered', async () => {
    await a.locator('#direct-username').fill(bob);
    await a.locator('#new-direct button').click();
    await until(
      a,
      'alice sees the chat with bob open',
      `document.getElementById('conv-title').textContent === ${q(bob)}`,
    );
    await a.locator('#message-input').fill('hello bob');
    await a.locator('#message-input').press('Enter');
    await until(
      b,
      "the chat appears in bob's list with 1 unread",
      `${entry(alice)}?.querySelector('.unread')?.textContent === '1'`,
    );
    await until(a, 'alice sees ✓✓ delivered', `${receipt('hello bob')} === 'delivered'`);
  });

  it('shows presence once bob accepts alice’s request: each sees the other online', async () => {
    // A conversation someone else started is a request: bob's presence is shared once he accepts (#15).
    await b.evaluate(inPage(`${entry(alice)}.click()`));
    await until(b, 'the accept button', `!!document.querySelector('#accept-request')`);
    await b.evaluate(inPage(`document.querySelector('#accept-request').click()`));
    await until(b, 'the request accepted', `!document.querySelector('#accept-request')`);
    await until(
      a,
      'bob online for alice',
      `${entry(bob)}?.querySelector('.dot')?.dataset.status === 'online'`,
    );
    await until(
      b,
      'alice online for bob',
      `${entry(alice)}?.querySelector('.dot')?.dataset.status === 'online'`,
    );
  });

  it('marks read when the recipient opens the chat, and the sender sees it', async () => {
    await b.evaluate(inPage(`${entry(alice)}.click()`));
    await until(b, 'bob sees the history', shows('#messages li', 'hello bob'));
    await until(b, 'the unread count is gone', `!${entry(alice)}?.querySelector('.unread')`);
    await until(a, 'alice sees read', `${receipt('hello bob')} === 'read'`);
  });

  it('shows typing, then delivers messages both ways in real time', async () => {
    await b.locator('#message-input').pressSequentially('hi ali', { delay: 20 });
    await until(
      a,
      'alice sees bob typing',
      `document.getElementById('typing').textContent.includes(${q(bob)})`,
    );
    await b.locator('#message-input').pressSequentially('ce', { delay: 20 });
    await b.locator('#message-input').press('Enter');
    await until(a, 'alice receives hi alice', shows('#messages li:not(.mine)', 'hi alice'));
    await until(a, 'the typing indicator clears', `document.getElementById('typing').textContent === ''`);
    await until(
      b,
      'bob sees his message read (alice has the chat open)',
      `${receipt('hi alice')} === 'read'`,
    );
    for (let i = 1; i <= 3; i++) {
      await a.locator('#message-input').fill(`ping ${i}`);
      await a.locator('#message-input').press('Enter');
    }
    await until(
      b,
      'bob receives the three in order',
      `[...document.querySelectorAll('#messages li:not(.mine) .body')].map((e) => e.textContent).slice(-3).join() === 'ping 1,ping 2,ping 3'`,
    );
    await until(
      a,
      'no message left pending',
      `document.querySelectorAll('#messages li.pending').length === 0`,
    );
  });

  it('pages history: the latest 30 first, older ones on demand (after a reload that keeps the session)', async () => {
    const api = new ParleyClient({ baseUrl: running.url });
    await api.login({ login: alice, password: PASSWORD });
    const conv = (await api.listConversations()).conversations[0]!;
    for (let i = 1; i <= 30; i++)
      await api.sendMessage(conv.id, { clientMsgId: `seed-${i}`, body: `seed ${i}` });
    await until(b, 'the live messages arrive', shows('#messages li', 'seed 30'));
    await b.reload();
    await until(b, 'bob is still signed in', `document.getElementById('status').textContent === 'connected'`);
    await b.evaluate(inPage(`${entry(alice)}.click()`));
    await until(b, 'the latest page', `document.querySelectorAll('#messages li').length === 30`);
    await until(b, 'a load-older button', `!document.getElementById('load-older').hidden`);
    await b.locator('#load-older').click();
    await until(b, 'the older page', `document.querySelectorAll('#messages li').length === 35`);
    await until(
      b,
      'in seq order',
      `document.querySelector('#messages li .body').textContent === 'hello bob'`,
    );
    await until(b, 'no more to load', `document.getElementById('load-older').hidden`);
  });

  it('sends an image: both see its thumbnail, and a click opens the full image', async () => {
    const sharp = (await import('sharp')).default;
    const photo = await sharp({
      create: { width: 1200, height: 800, channels: 3, background: { r: 200, g: 60, b: 40 } },
    })
      .png()
      .toBuffer();
    await until(a, 'alice has the chat open', `!document.getElementById('composer').hidden`);
    await a.locator('#message-input').fill('our logo');
    await a.locator('#attach').setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: photo });
    // The thumbnail is the server's variant, decoded by the browser: smaller than the original.
    const thumb = `[...document.querySelectorAll('#messages li')].find((li) => li.textContent.includes('our logo'))?.querySelector('.attachment img.thumb')`;
    for (const [page, who] of [
      [a, 'alice'],
      [b, 'bob'],
    ] as const) {
      await until(page, `${who} sees the thumbnail`, `${thumb}?.complete && ${thumb}.naturalWidth > 0`);
      const size = await page.evaluate(
        inPage(`[${thumb}.naturalWidth, ${thumb}.naturalHeight, ${thumb}.src]`),
      );
      const [w, h, src] = size as [number, number, string];
      expect(w, `${who}'s thumbnail width`).to.be.within(1, 400);
      expect(h, `${who}'s thumbnail height`).to.be.within(1, 400);
      expect(src).to.match(/^blob:/);
    }
    await b.evaluate(inPage(`${thumb}.click()`));
    await until(
      b,
      'the full image in the viewer',
      `document.getElementById('viewer').open && document.getElementById('viewer-img').complete && document.getElementById('viewer-img').naturalWidth === 1200`,
    );
    await b.locator('#viewer-close').click();
    await until(b, 'the viewer closed', `!document.getElementById('viewer').open`);
  });

  it('asks for notification permission: refused, it says so; granted, it subscribes with the VAPID key and registers the subscription', async () => {
    // No permission granted to bob's context: headless Chromium answers the prompt with a refusal.
    await b.locator('#push-enable').click();
    await until(
      b,
      'bob is told push is off',
      `document.getElementById('push-state').dataset.state === 'denied'`,
    );

    await a.context().grantPermissions(['notifications'], { origin: running.url });
    // The browser's push service (FCM for Chromium) is third-party SaaS this machine cannot reach,
    // so subscribe() is answered in the page the way Chromium answers it: an FCM endpoint and real
    // P-256 / auth keys. Everything else is the real browser: permission, service worker, requests.
    await a.evaluate(
      inPage(`(() => {
        const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
        window.__push = {};
        PushManager.prototype.subscribe = async function (options) {
          window.__push.options = { userVisibleOnly: options.userVisibleOnly, key: b64(options.applicationServerKey) };
          const pair = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, true, ['deriveBits']);
          const json = {
            endpoint: 'https://fcm.googleapis.com/fcm/send/' + crypto.randomUUID(),
            expirationTime: null,
            keys: { p256dh: b64(await crypto.subtle.exportKey('raw', pair.publicKey)), auth: b64(crypto.getRandomValues(new Uint8Array(16))) },
          };
          window.__push.subscription = json;
          return { endpoint: json.endpoint, toJSON: () => json };
        };
      })()`),
    );
    const registered = a.waitForRequest(
      (r) => r.method() === 'PUT' && r.url().includes('/v1/push/subscriptions/'),
    );
    await a.locator('#push-enable').click();
    const put = await registered;
    await until(
      a,
      'alice is told push is on',
      `document.getElementById('push-state').dataset.state === 'registered'`,
    );
    expect(await a.evaluate(inPage('Notification.permission'))).to.equal('granted');
    expect(
      await a.evaluate(
        inPage(`navigator.serviceWorker.getRegistration('/demo/').then((r) => r?.active?.scriptURL)`),
      ),
    ).to.equal(`${running.url}/demo/sw.js`);
    const seen = (await a.evaluate(inPage('window.__push'))) as {
      options: { userVisibleOnly: boolean; key: string };
      subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
    };
    const vapid = ((await (await fetch(`${running.url}/v1/push/vapid-key`)).json()) as { publicKey: string })
      .publicKey;
    expect(seen.options).to.deep.equal({ userVisibleOnly: true, key: vapid });
    // The request the page made, and what the server now holds for alice.
    expect(put.postDataJSON()).to.deep.equal({
      class: 'web',
      endpoint: seen.subscription.endpoint,
      keys: seen.subscription.keys,
    });
    const api = new ParleyClient({ baseUrl: running.url });
    await api.login({ login: alice, password: PASSWORD });
    const subs = await api.request<{ items: { deviceId: string; class: string; endpoint: string }[] }>(
      'GET',
      '/v1/push/subscriptions',
    );
    const deviceId = put.url().split('/').pop();
    expect(
      subs.body.items.map(({ deviceId, class: c, endpoint }) => ({ deviceId, class: c, endpoint })),
    ).to.deep.equal([{ deviceId, class: 'web', endpoint: seen.subscription.endpoint }]);
  });

  it('ran without page errors or CSP violations', () => {
    expect(problems).to.deep.equal([]);
  });
});

describe('SDK in Node (ws) against the embedded gateway', function () {
  this.timeout(60_000);
  const servers: { running: Running; dir: string }[] = [];
  const boot = async (env: Record<string, string> = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sdk-'));
    const running = await runStandalone({
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      ...env,
    });
    servers.push({ running, dir });
    await running.ready;
    return running;
  };
  const sockets: ParleySocket[] = [];
  /** A session whose current `ws` socket a test can cut, as a network failure would. */
  const session = (client: ParleyClient, opts: Partial<ParleySocketOptions> = {}) => {
    const opened: WebSocket[] = [];
    class TrackedWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        opened.push(this);
      }
    }
    const s = new ParleySocket({ client, WebSocket: TrackedWebSocket, ...opts });
    sockets.push(s);
    return Object.assign(s, { cut: () => opened.at(-1)!.terminate() });
  };
  /** Resolves when the session next enters `state` (an event, so a short-lived state is not missed). */
  const entered = (s: ParleySocket, state: string) =>
    new Promise<void>((resolve) => {
      const off = s.on('state', (st) => {
        if (st !== state) return;
        off();
        resolve();
      });
    });
  const user = async (url: string, name: string) => {
    const client = new ParleyClient({ baseUrl: url });
    const r = await client.register({
      username: `${name}_${randomBytes(3).toString('hex')}`,
      password: PASSWORD,
    });
    return { client, user: r.user };
  };

  after(async () => {
    for (const s of sockets) s.close();
    for (const { running, dir } of servers) {
      await running.stop('test');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resumes after a dropped connection with no loss or duplicate, and re-sends from the outbox', async () => {
    const url = (await boot()).url;
    const alice = await user(url, 'alice');
    const bob = await user(url, 'bob');
    const conv = await alice.client.createConversation({ type: 'direct', members: [bob.user.username] });
    // Both come back after a fixed delay (random 0.99 of the first backoff window): with the
    // default jitter a reconnect can take 0 ms, and the test could never see it waiting.
    const sa = session(alice.client, { backoff: { baseMs: 1_000 }, random: () => 0.99 });
    // Bob authenticates with a first frame, and comes back late after a drop (about 2 s).
    const sb = session(bob.client, { auth: 'frame', backoff: { baseMs: 2_000 }, random: () => 0.99 });
    const got: string[] = [];
    let replayed = 0;
    sb.on('message', (m, meta) => {
      got.push(m.body ?? '');
      if (meta.replay) replayed++;
    });
    await Promise.all([sa.connect(), sb.connect()]);

    expect((await sa.send(conv.id, { body: 'one' })).conversationId).to.equal(conv.id);
    await waitFor(() => got.length === 1 || null);
    expect(sb.cursor(conv.id)).to.equal(1);

    const bobWaiting = entered(sb, 'waiting');
    sb.cut();
    await bobWaiting;
    for (const body of ['two', 'three', 'four']) await sa.send(conv.id, { body });
    await waitFor(() => (sb.cursor(conv.id) === 4 ? true : null), { timeoutMs: 30_000 });
    expect(got).to.deep.equal(['one', 'two', 'three', 'four']);
    expect(replayed, 'messages that came by resume').to.be.greaterThan(0);

    // Alice's connection drops just before she sends: the send waits in the outbox.
    const aliceWaiting = entered(sa, 'waiting');
    sa.cut();
    await aliceWaiting;
    expect(sa.state, 'the send below goes to the outbox').to.not.equal('open');
    const ack = await sa.send(conv.id, { body: 'five', clientMsgId: 'five-1' });
    expect(ack.clientMsgId).to.equal('five-1');
    await waitFor(() => (sb.cursor(conv.id) === 5 ? true : null), { timeoutMs: 30_000 });
    expect(got).to.deep.equal(['one', 'two', 'three', 'four', 'five']);
    const stored = await bob.client.listMessages(conv.id, { after: 0 });
    expect(stored.messages.map((m) => m.body)).to.deep.equal(['one', 'two', 'three', 'four', 'five']);
  });

  it("paces a burst of 150 sends to the server's frame limits: every one acked and stored once, none dropped", async () => {
    // The gateway's default frame limits (20 a second, a burst of 60; past them it drops frames
    // and cannot say which), with the per-user send rate out of the way (it answers each send).
    const url = (await boot({ SEND_RATE_PER_MINUTE: '100000', SEND_BURST: '1000' })).url;
    const alice = await user(url, 'alice');
    const bob = await user(url, 'bob');
    const conv = await alice.client.createConversation({ type: 'direct', members: [bob.user.username] });
    const sa = session(alice.client);
    await sa.connect();
    const errors: string[] = [];
    sa.on('error', (e) => errors.push('code' in e ? e.code : e.message));
    const acks = await Promise.all(
      Array.from({ length: 150 }, (_, i) => sa.send(conv.id, { body: `n${i}`, clientMsgId: `burst-${i}` })),
    );
    expect(new Set(acks.map((a) => a.messageId)).size).to.equal(150);
    expect(errors, 'no frame dropped by the server').to.deep.equal([]);
    const stored = await bob.client.listMessages(conv.id, { after: 0, limit: 200 });
    expect(stored.messages.map((m) => m.body)).to.deep.equal(Array.from({ length: 150 }, (_, i) => `n${i}`));
  });

  it('refreshes the token on token.expiring and keeps the socket open', async () => {
    const url = (await boot({ ACCESS_TOKEN_TTL_SECONDS: '30' })).url;
    const carol = await user(url, 'carol');
    const s = session(carol.client);
    const states: string[] = [];
    s.on('state', (st) => states.push(st));
    const first = (await s.connect()).tokenExpiresAt;
    const token = carol.client.tokens!.accessToken;
    // A 30 s token is warned about halfway through its life (longer ones a minute ahead).
    await waitFor(() => (s.ready && s.ready.tokenExpiresAt > first ? true : null), {
      timeoutMs: 25_000,
      what: 'a refreshed token',
    });
    expect(carol.client.tokens!.accessToken).to.not.equal(token);
    expect(states).to.deep.equal(['connecting', 'open']);
  });

  it('stops for good when the session is revoked (4003)', async () => {
    const url = servers[0]!.running.url;
    const dave = await user(url, 'dave');
    const s = session(dave.client);
    const closes: (number | undefined)[] = [];
    s.on('state', (st, d) => st === 'closed' && closes.push(d.code));
    await s.connect();
    await dave.client.logout();
    await waitFor(() => (closes.length ? true : null));
    expect(closes).to.deep.equal([4003]);
  });
});
