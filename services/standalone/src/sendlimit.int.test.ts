import { expect } from 'chai';
import type { Running } from '@parley/common';
import { restClient, SocketPool, startEmbedded, type User } from './testkit.ts';

/** One send limit per user over REST and every socket together (#18): a token bucket. */
describe('per-user send limit (embedded)', function () {
  this.timeout(30_000);
  let running: Running;
  let stop: (() => Promise<void>) | undefined;
  let base: string;
  let alice: User;
  let conv: string;
  const { call, register } = restClient(() => base);
  const pool = new SocketPool(() => base);

  before(async () => {
    ({ running, stop } = await startEmbedded('sendlimit', {
      SEND_RATE_PER_MINUTE: '30', // one token every 2 s
      SEND_BURST: '3',
    }));
    base = running.url;
    [alice] = (await Promise.all(['alice', 'bob'].map(register))) as [User, User];
    conv = (await call('POST', '/v1/conversations', alice.token, { type: 'direct', members: ['bob'] })).body
      .id;
  });
  after(async () => {
    for (const s of pool.sockets.splice(0)) s.ws.terminate();
    await stop?.();
  });

  it('lets a burst through, then answers REST with 429 and Retry-After and the socket with RATE_LIMITED', async () => {
    const send = (clientMsgId: string, wait = false) =>
      call('POST', `/v1/conversations/${conv}/messages${wait ? '?wait=persisted' : ''}`, alice.token, {
        clientMsgId,
        body: `m ${clientMsgId}`,
      });
    expect((await send('b1', true)).status).to.equal(201);
    const s = await pool.connect(alice);
    s.send({ type: 'send', id: 's2', conversationId: conv, clientMsgId: 'b2', body: 'over the socket' });
    await s.next('ack', { id: 's2' });
    expect((await send('b3')).status).to.equal(202);
    // The bucket (3) is empty, whichever way the next send comes.
    const refused = await send('b4');
    expect(refused.status).to.equal(429);
    expect(refused.body.code).to.equal('RATE_LIMITED');
    expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 2);
    s.send({ type: 'send', id: 's5', conversationId: conv, clientMsgId: 'b5', body: 'too soon' });
    const frame = await s.next('error', { id: 's5' });
    expect(frame).to.include({ code: 'RATE_LIMITED', conversationId: conv });
    expect(frame.retryAfterMs).to.be.within(1000, 2000);
    // A re-send of a stored message is answered from the store and costs nothing.
    const again = await send('b1', true);
    expect([again.status, again.body.seq]).to.deep.equal([201, 1]);
  });
});
