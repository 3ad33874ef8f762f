import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { ParleyClient } from '@parley/client';
import sharp from 'sharp';
import { waitFor, type Doc } from '@parley/common';
import { Mailpit, requireEnv, TestSocket } from '@parley/common/testing';
import { FakeFcm } from './testing/fake-fcm.ts';
import { MessageHarness, type Cfg } from './testing/harness.ts';
import { PushEndpoint } from './testing/push-endpoint.ts';
import { SmtpMailChannel } from './notify/channels/email.ts';
import { FcmChannel } from './notify/channels/fcm.ts';
import { WebPushChannel } from './notify/channels/webpush.ts';
import { messageNotifierModule } from './notifications.ts';
import { PushEndpointPolicy } from './notify/pushendpoint.ts';

/**
 * The notifier end to end, on the adapters `stackEnv` selects: REST sends, the worker persists,
 * the notifier reads chat.events and reaches Mailpit, a local push endpoint (which decrypts) and
 * a fake FCM. The attachment case drives the SDK over HTTP, so uploads and downloads take the
 * object store `stackEnv` selects (disk, or S3 on SeaweedFS).
 */
export function notifySuite(name: string, stackEnv: () => Record<string, string>): void {
  describe(`notifications end to end: ${name}`, function () {
    this.timeout(60_000);
    const push = new PushEndpoint();
    const fcm = new FakeFcm();
    const mailpit = new Mailpit(requireEnv('MAILPIT_API_URL'));
    const vapid = { publicKey: '', privateKey: '', subject: 'mailto:ops@parley.test' };
    const h = new MessageHarness(
      () => ({
        ...stackEnv(),
        NOTIFY_GROUP_ID: `t-${randomBytes(3).toString('hex')}.notifier`,
        TOPIC_NOTIFY_DLQ: `t-${randomBytes(3).toString('hex')}.notify.dlq`,
        // Long enough for six sends on a loaded machine to fall in one window.
        NOTIFY_COLLAPSE_SECONDS: '5',
        NOTIFY_SWEEP_MS: '200',
        NOTIFY_RETRY_INITIAL_MS: '20',
        NOTIFY_PUBLIC_URL: 'https://chat.parley.test',
        WEB_PUSH_ALLOWED_HOSTS: 'fcm.googleapis.com,*.notify.windows.com,127.0.0.1',
        // The SDK case signs up over HTTP, all from 127.0.0.1.
        RATE_LIMIT_REGISTER_PER_15MIN: '1000',
        // The auth service mails verification codes to Mailpit too.
        SMTP_URL: requireEnv('SMTP_URL'),
      }),
      () => [
        messageNotifierModule<Cfg>({
          web: new WebPushChannel(vapid, {
            ttlSec: 60,
            tls: { ca: push.ca },
            // The local push endpoint, listed as an operator would list an internal one.
            policy: new PushEndpointPolicy(['127.0.0.1']),
          }),
          mail: new SmtpMailChannel({ url: requireEnv('SMTP_URL'), from: 'Parley <notify@parley.test>' }),
          mobile: new FcmChannel(fcm.account, fcm.url),
        }),
      ],
    );

    before(async () => {
      await push.start();
      await fcm.start();
      await h.start();
      const key = (await h.call('GET', '/v1/push/vapid-key')).json().publicKey as string;
      // The channel signs with the installation's keys, as the notifier role would.
      Object.assign(vapid, JSON.parse(await readKeys(h)).vapid, { publicKey: key });
    });
    after(async () => {
      await h.stop();
      await push.stop();
      await fcm.stop();
    });

    const withEmail = async (u: { id: string }) => {
      const email = `${u.id}@example.test`;
      const users = await h.running.deps().store.collection<Doc>('users');
      // A verified address (GitHub sign-in sets it; password sign-ups only have a pending one).
      await users.updateOne({ _id: u.id }, { $set: { email } });
      return email;
    };
    const subscribeWeb = async (u: { token: string }) => {
      const sub = push.subscribe();
      const res = await h.call('PUT', '/v1/push/subscriptions/:deviceId', {
        token: u.token,
        params: { deviceId: `web-${randomBytes(4).toString('hex')}` },
        body: { class: 'web', ...sub },
      });
      expect(res.statusCode, res.body).to.equal(200);
      return sub;
    };
    const pushesTo = (sub: { endpoint: string }) =>
      push.received.filter((r) => r.subscription === sub.endpoint).map((r) => JSON.parse(r.plaintext));

    it('an offline member gets a stored notification, a decrypted Web Push and a mail; an online member and the sender get nothing', async () => {
      const [alice, bob, carol] = [await h.user(), await h.user(), await h.user()];
      const group = await h.call('POST', '/v1/conversations', {
        token: alice.token,
        body: { type: 'group', title: 'Team', members: [bob.username, carol.username] },
      });
      expect(group.statusCode, group.body).to.equal(201);
      const conv = group.json().id as string;
      const [bobMail, carolMail] = [await withEmail(bob), await withEmail(carol)];
      await withEmail(alice);
      const [bobSub, carolSub, aliceSub] = [
        await subscribeWeb(bob),
        await subscribeWeb(carol),
        await subscribeWeb(alice),
      ];
      const online = await TestSocket.bearer(h.running.url, carol.token);
      try {
        const sent = await h.send(alice.token, conv, { clientMsgId: randomUUID(), body: 'lunch at noon?' });
        expect(sent.statusCode, sent.body).to.equal(201);
        const got = await waitFor(() => (pushesTo(bobSub).length ? pushesTo(bobSub) : undefined));
        expect(got[0]).to.include({ body: 'lunch at noon?', conversationId: conv, count: 1 });
        const mail = await mailpit.waitFor(bobMail);
        expect(mail.Text).to.contain('lunch at noon?');
        expect(mail.Text).to.match(
          /Stop these mails: https:\/\/chat\.parley\.test\/v1\/notifications\/unsubscribe\?token=\S+/,
        );
        // One-click unsubscribe (RFC 8058): both headers, the URL the same as the text's link.
        const headers = await mailpit.headers(mail.ID);
        const link = /Stop these mails: (\S+)/.exec(mail.Text)![1]!;
        expect(headers['List-Unsubscribe']).to.deep.equal([`<${link}>`]);
        expect(headers['List-Unsubscribe-Post']).to.deep.equal(['List-Unsubscribe=One-Click']);
        const list = await h.call('GET', '/v1/notifications', { token: bob.token });
        expect(list.json().items.map((n: { text: string }) => n.text)).to.deep.equal([
          `${alice.username}: lunch at noon?`,
        ]);
        expect(list.json().unread).to.equal(1);
        // Nothing for the online member or the sender, after the window closed.
        await waitFor(async () => expect((await mailpit.to(bobMail)).length).to.equal(1));
        expect(pushesTo(carolSub)).to.deep.equal([]);
        expect(pushesTo(aliceSub)).to.deep.equal([]);
        expect(await mailpit.to(carolMail)).to.deep.equal([]);
        expect((await h.call('GET', '/v1/notifications', { token: carol.token })).json().items).to.deep.equal(
          [],
        );
      } finally {
        online.ws.close();
      }
    });

    /** A user signed up through the SDK over HTTP, with a verified address. */
    const sdkUser = async () => {
      const c = new ParleyClient({ baseUrl: h.running.url });
      const username = `sdk_${randomBytes(5).toString('hex')}`;
      const { user } = await c.register({ username, password: 'a long and unusual passphrase' });
      return { c, username, id: user.id, email: await withEmail(user) };
    };

    it('an image sent through the SDK reaches an offline member as a mail and a decrypted Web Push, and an online member as neither', async () => {
      const [alice, bob, carol] = [await sdkUser(), await sdkUser(), await sdkUser()];
      const chat = await alice.c.createConversation({
        type: 'group',
        title: 'Photos',
        members: [bob.username, carol.username],
      });
      const [bobSub, carolSub] = [push.subscribe(), push.subscribe()];
      await bob.c.notifications.registerWebPush('bob-laptop', bobSub);
      await carol.c.notifications.registerWebPush('carol-laptop', carolSub);
      const photo = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#2a6' } })
        .jpeg()
        .withExif({ IFD0: { Copyright: 'gps 52.52,13.40' } })
        .toBuffer();
      const a = await alice.c.media.upload({ conversationId: chat.id, file: photo, filename: 'view.jpg' });
      expect(a).to.include({ contentType: 'image/jpeg', width: 800, height: 600 });
      const online = await TestSocket.bearer(h.running.url, carol.c.tokens!.accessToken);
      try {
        const sent = await alice.c.sendMessage(
          chat.id,
          { clientMsgId: randomUUID(), body: 'the view from the office', attachments: [a.id] },
          { wait: true },
        );
        expect(sent.attachments).to.deep.equal([a.id]);
        // Carol's live socket gets the message, with the attachment, as it happens.
        const live = await online.next('message.created');
        expect(live.data).to.deep.include({ id: sent.id, attachments: [a.id] });

        const got = await waitFor(() => (pushesTo(bobSub).length ? pushesTo(bobSub) : undefined), {
          what: 'a Web Push to the offline member',
        });
        expect(got).to.have.length(1);
        // The push says a file came with the text.
        expect(got[0]).to.include({ body: 'the view from the office 📎', conversationId: chat.id, count: 1 });
        const mail = await mailpit.waitFor(bob.email);
        expect(mail.Text).to.contain('the view from the office');
        const [listed] = (await bob.c.notifications.list()).items;
        expect(listed).to.include({ messageId: sent.id, conversationId: chat.id });
        // What the notification leads to: the offline member reads the picture, without its EXIF.
        const meta = await bob.c.media.get(a.id);
        expect(meta).to.include({ messageId: sent.id, contentType: 'image/jpeg' });
        // From S3 through a presigned URL (fetched without the token), from disk through the API.
        const presigned = await bob.c.media.downloadUrl(a.id);
        expect(presigned !== null, String(presigned)).to.equal(stackEnv().S3_BUCKET !== undefined);
        const original = Buffer.from(await (await bob.c.media.download(a.id)).arrayBuffer());
        expect((await sharp(original).metadata()).exif).to.equal(undefined);
        const thumb = Buffer.from(await (await bob.c.media.download(a.id, 'thumbnail')).arrayBuffer());
        expect((await sharp(thumb).metadata()).width).to.be.at.most(320);

        // Nothing for the online member, once the collapse window closed into Bob's mail.
        await waitFor(async () => expect((await mailpit.to(bob.email)).length).to.equal(1));
        expect(pushesTo(carolSub)).to.deep.equal([]);
        expect(await mailpit.to(carol.email)).to.deep.equal([]);
        expect((await carol.c.notifications.list()).items).to.deep.equal([]);
        expect(pushesTo(bobSub)).to.have.length(1);
      } finally {
        online.ws.close();
      }
    });

    it('mails only a verified address: a typed email gets none until its owner proves it with the mailed code, then the next message', async () => {
      const alice = await h.user();
      const typed = `${randomBytes(6).toString('hex')}@example.test`;
      // Bob signs up through the SDK over HTTP with a password and an email (pending in auth).
      const c = new ParleyClient({ baseUrl: h.running.url });
      const { user } = await c.register({
        username: `p${randomBytes(6).toString('hex')}`,
        password: 'a long enough passphrase',
        email: typed,
      });
      expect(user).to.include({ pendingEmail: typed }).and.not.have.property('email');
      const bob = { id: user.id, username: user.username, token: c.tokens!.accessToken };
      const conv = await h.direct(alice, bob);
      const sub = await subscribeWeb(bob);
      await h.send(alice.token, conv, { clientMsgId: randomUUID(), body: 'to a pending address' });
      await waitFor(() => pushesTo(sub).length === 1 || undefined);
      // The window closes (when an instant mail would go) and its record is removed.
      const windows = await h.running.deps().store.collection<Doc>('notify_windows');
      await waitFor(async () => (await windows.findById(`${bob.id}:${conv}`)) === null || undefined, {
        timeoutMs: 20_000,
      });
      expect(await mailpit.to(typed)).to.deep.equal([]);
      // Bob proves the address: the auth service mails a code over SMTP (Mailpit), Bob enters it.
      expect(await c.requestEmailVerification()).to.include({ expiresInSec: 3600 });
      const codeMail = await mailpit.waitFor(typed);
      expect(codeMail.Subject).to.match(/^Your Parley email code: \d{6}$/);
      const code = /code is (\d{6})/.exec(codeMail.Text)![1]!;
      expect(await c.verifyEmail({ code }))
        .to.include({ email: typed })
        .and.not.have.property('pendingEmail');
      // Offline (no socket), the verified address gets the next burst by mail.
      await h.send(alice.token, conv, { clientMsgId: randomUUID(), body: 'now verified' });
      const mail = await mailpit.waitFor(typed, 2, 20_000);
      expect(mail.Text).to.contain('now verified');
      expect(mail.Text).to.not.contain('to a pending address');
    });

    it('refuses a push endpoint off the allowlist or inside the network, with PUSH_ENDPOINT_NOT_ALLOWED', async () => {
      const bob = await h.user();
      const keys = push.subscribe().keys;
      const cases: [string, string][] = [
        [
          'https://169.254.169.254/latest/meta-data',
          'endpoint host 169.254.169.254 is a private, loopback or link-local address',
        ],
        ['https://10.0.0.7/push', 'endpoint host 10.0.0.7 is a private, loopback or link-local address'],
        ['https://[::1]/push', 'endpoint host ::1 is a private, loopback or link-local address'],
        [
          'https://push.attacker.example/x',
          'endpoint host push.attacker.example is not a known push service (WEB_PUSH_ALLOWED_HOSTS)',
        ],
      ];
      for (const [endpoint, detail] of cases) {
        const res = await h.call('PUT', '/v1/push/subscriptions/:deviceId', {
          token: bob.token,
          params: { deviceId: 'web-ssrf' },
          body: { class: 'web', endpoint, keys },
        });
        expect([res.statusCode, res.json().code, res.json().detail], endpoint).to.deep.equal([
          422,
          'PUSH_ENDPOINT_NOT_ALLOWED',
          detail,
        ]);
      }
      for (const endpoint of [
        'https://fcm.googleapis.com/fcm/send/x',
        'https://wns2-par02p.notify.windows.com/w/?token=x',
      ]) {
        const ok = await h.call('PUT', '/v1/push/subscriptions/:deviceId', {
          token: bob.token,
          params: { deviceId: 'web-ok' },
          body: { class: 'web', endpoint, keys },
        });
        expect(ok.statusCode, ok.body).to.equal(200);
      }
      expect(
        (await h.call('GET', '/v1/push/subscriptions', { token: bob.token })).json().items,
      ).to.have.length(1);
    });

    it('collapses a burst: one push at once, then one "N new messages" push and one mail', async () => {
      const [alice, bob] = [await h.user(), await h.user()];
      const conv = await h.direct(alice, bob);
      const bobMail = await withEmail(bob);
      const sub = await subscribeWeb(bob);
      for (let i = 0; i < 6; i++)
        await h.send(alice.token, conv, { clientMsgId: randomUUID(), body: `m${i}` });
      const pushes = await waitFor(() => (pushesTo(sub).length >= 2 ? pushesTo(sub) : undefined));
      expect(pushes.map((p) => p.body)).to.deep.equal(['m0', '6 new messages']);
      const mail = await mailpit.waitFor(bobMail);
      expect(mail.Subject).to.contain('6 new messages');
      expect((await h.call('GET', '/v1/notifications', { token: bob.token })).json().items).to.have.length(6);
    });

    it('respects mute, and removes a subscription the push service reports gone', async () => {
      const [alice, bob, carol] = [await h.user(), await h.user(), await h.user()];
      const group = await h.call('POST', '/v1/conversations', {
        token: alice.token,
        body: { type: 'group', title: 'Mute', members: [bob.username, carol.username] },
      });
      const conv = group.json().id as string;
      const [sub, witness] = [await subscribeWeb(bob), await subscribeWeb(carol)];
      const prefs = { email: 'off', web: true, mobile: true, muted: [{ conversationId: conv }] };
      const put = await h.call('PUT', '/v1/notifications/preferences', { token: bob.token, body: prefs });
      expect(put.statusCode, put.body).to.equal(200);
      await h.send(alice.token, conv, { clientMsgId: randomUUID(), body: 'muted' });
      // Carol (not muted) got it: the notifier has handled the event.
      await waitFor(() => pushesTo(witness).length === 1 || undefined);
      expect(pushesTo(sub)).to.deep.equal([]);
      // Unmute, then make the push service answer 410: the subscription goes.
      await h.call('PUT', '/v1/notifications/preferences', {
        token: bob.token,
        body: { ...prefs, muted: [] },
      });
      push.answer(sub.endpoint, 410);
      await h.send(alice.token, conv, { clientMsgId: randomUUID(), body: 'after' });
      await waitFor(async () =>
        expect(
          (await h.call('GET', '/v1/push/subscriptions', { token: bob.token })).json().items,
        ).to.deep.equal([]),
      );
      const list = await h.call('GET', '/v1/notifications', { token: bob.token });
      expect(list.json().items.map((n: { text: string }) => n.text)).to.deep.equal([
        `${alice.username}: after`,
      ]);
    });

    it('unsubscribes with the one-click POST of a mail’s List-Unsubscribe header; a GET of the link only asks', async () => {
      const [alice, bob] = [await h.user(), await h.user()];
      const conv = await h.direct(alice, bob);
      const bobMail = await withEmail(bob);
      await h.send(alice.token, conv, { clientMsgId: randomUUID(), body: 'unsubscribe me' });
      const mail = await mailpit.waitFor(bobMail);
      const header = (await mailpit.headers(mail.ID))['List-Unsubscribe']![0]!;
      const url = new URL(/^<(https:\/\/[^>]+)>$/.exec(header)![1]!);
      expect(url.origin).to.equal('https://chat.parley.test');
      const path = url.pathname + url.search;
      const emailPref = async () =>
        (await h.call('GET', '/v1/notifications/preferences', { token: bob.token })).json().email as string;
      // A link scanner's GET: a confirmation page, and mail stays on.
      const page = await h.running.inject({ method: 'GET', url: path });
      expect(page.statusCode, page.body).to.equal(200);
      expect(page.headers['content-type']).to.match(/^text\/html/);
      expect(page.body)
        .to.contain('<form method="post"')
        .and.contain('name="List-Unsubscribe" value="One-Click"');
      expect(await emailPref()).to.equal('instant');
      // A wrong body or an oversized one is refused before anything changes.
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const wrong = await h.running.inject({
        method: 'POST',
        url: path,
        headers: form,
        payload: 'List-Unsubscribe=Yes',
      });
      expect([wrong.statusCode, wrong.json().code]).to.deep.equal([400, 'VALIDATION_FAILED']);
      const big = await h.running.inject({
        method: 'POST',
        url: path,
        headers: form,
        payload: `List-Unsubscribe=${'x'.repeat(70_000)}`,
      });
      expect([big.statusCode, big.json().code]).to.deep.equal([413, 'PAYLOAD_TOO_LARGE']);
      const text = await h.running.inject({
        method: 'POST',
        url: path,
        headers: { 'content-type': 'text/plain' },
        payload: 'List-Unsubscribe=One-Click',
      });
      expect([text.statusCode, text.json().code]).to.deep.equal([415, 'UNSUPPORTED_MEDIA_TYPE']);
      expect(await emailPref()).to.equal('instant');
      // What a mail provider sends.
      const ok = await h.running.inject({
        method: 'POST',
        url: path,
        headers: form,
        payload: 'List-Unsubscribe=One-Click',
      });
      expect(ok.statusCode, ok.body).to.equal(200);
      expect(ok.json()).to.deep.equal({ email: 'off' });
      expect(await emailPref()).to.equal('off');
    });

    it('takes the one-click body as JSON too; refuses forged and expired tokens with problem+json', async () => {
      const bob = await h.user();
      const keys = JSON.parse(await readKeys(h)) as { unsubscribeSecret: string };
      const { unsubscribeToken } = await import('./notify/unsubscribe.ts');
      const inAnHour = Date.now() / 1000 + 3600;
      const body = { 'List-Unsubscribe': 'One-Click' };
      for (const method of ['GET', 'POST']) {
        const forged = await h.call(method, '/v1/notifications/unsubscribe', {
          query: `token=${unsubscribeToken('not the secret', bob.id, inAnHour)}`,
          ...(method === 'POST' ? { body } : {}),
        });
        expect([forged.statusCode, forged.headers['content-type'], forged.json().code]).to.deep.equal([
          422,
          'application/problem+json; charset=utf-8',
          'INVALID_UNSUBSCRIBE_TOKEN',
        ]);
        const expired = await h.call(method, '/v1/notifications/unsubscribe', {
          query: `token=${unsubscribeToken(keys.unsubscribeSecret, bob.id, Date.now() / 1000 - 1)}`,
          ...(method === 'POST' ? { body } : {}),
        });
        expect([expired.statusCode, expired.json().code]).to.deep.equal([410, 'UNSUBSCRIBE_LINK_EXPIRED']);
        expect(expired.json().detail).to.contain('newer mail');
      }
      const ok = await h.call('POST', '/v1/notifications/unsubscribe', {
        query: `token=${unsubscribeToken(keys.unsubscribeSecret, bob.id, inAnHour)}`,
        body,
      });
      expect(ok.json()).to.deep.equal({ email: 'off' });
      expect(
        (await h.call('GET', '/v1/notifications/preferences', { token: bob.token })).json().email,
      ).to.equal('off');
    });
  });
}

async function readKeys(h: MessageHarness): Promise<string> {
  const { readFileSync } = await import('node:fs');
  return readFileSync(`${h.env.DATA_DIR}/notify-keys.json`, 'utf8');
}
