import { expect } from 'chai';
import { ParleyClient } from './client.ts';

/** Records each request and answers with the preferences it holds (PUT replaces them). */
function fakeServer() {
  const seen: string[] = [];
  let prefs: unknown = { email: 'instant', web: true, mobile: true, muted: [{ conversationId: 'c0' }] };
  const fetchFn = (async (url: string, init: RequestInit) => {
    const u = new URL(url);
    const body = init.body === undefined ? '' : ` ${String(init.body)}`;
    seen.push(`${init.method} ${u.pathname}${u.search}${body}`);
    if (u.pathname === '/v1/notifications/preferences' && init.method === 'PUT')
      prefs = JSON.parse(String(init.body));
    const answer = u.pathname.endsWith('/preferences')
      ? prefs
      : u.pathname === '/v1/notifications/read'
        ? { updated: 2 }
        : u.pathname === '/v1/push/vapid-key'
          ? { publicKey: 'BKEY' }
          : { items: [] };
    if (init.method === 'DELETE') return new Response(null, { status: 204 });
    return new Response(JSON.stringify(answer), { headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch;
  return { seen, client: new ParleyClient({ baseUrl: 'http://api', fetch: fetchFn }) };
}

describe('ParleyClient notifications', () => {
  it('lists with paging and the unread filter, and marks read by id or all', async () => {
    const { seen, client } = fakeServer();
    await client.notifications.list({ unread: true, limit: 20, before: '2026-01-01T00:00:00.000Z' });
    expect(await client.notifications.markRead(['n1', 'n2'])).to.equal(2);
    await client.notifications.markRead('all');
    expect(seen).to.deep.equal([
      'GET /v1/notifications?unread=true&limit=20&before=2026-01-01T00%3A00%3A00.000Z',
      'POST /v1/notifications/read {"ids":["n1","n2"]}',
      'POST /v1/notifications/read {"all":true}',
    ]);
  });

  it('mutes and unmutes one conversation, keeping the other preferences', async () => {
    const { client } = fakeServer();
    const muted = await client.notifications.mute('c1', '2026-02-01T00:00:00.000Z');
    expect(muted.muted).to.deep.equal([
      { conversationId: 'c0' },
      { conversationId: 'c1', until: '2026-02-01T00:00:00.000Z' },
    ]);
    const unmuted = await client.notifications.mute('c0', null);
    expect(unmuted).to.deep.equal({
      email: 'instant',
      web: true,
      mobile: true,
      muted: [{ conversationId: 'c1', until: '2026-02-01T00:00:00.000Z' }],
    });
  });

  it('registers a browser PushSubscription with only the fields the API takes', async () => {
    const { seen, client } = fakeServer();
    const sub = {
      endpoint: 'https://push.example/x',
      expirationTime: null,
      keys: { p256dh: 'P', auth: 'A' },
    };
    await client.notifications.registerWebPush('laptop', sub);
    await client.notifications.removePush('laptop');
    expect(await client.notifications.vapidPublicKey()).to.equal('BKEY');
    expect(seen).to.deep.equal([
      'PUT /v1/push/subscriptions/laptop {"class":"web","endpoint":"https://push.example/x","keys":{"p256dh":"P","auth":"A"}}',
      'DELETE /v1/push/subscriptions/laptop',
      'GET /v1/push/vapid-key',
    ]);
    const err = await client.notifications.registerWebPush('x', {}).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TypeError);
  });
});
