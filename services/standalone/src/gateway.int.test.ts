import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { waitFor } from '@parley/common';
import { importJWK, SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { wsUrl } from '@parley/common/testing';

import { gatewayFixture } from './gateway.fixture.ts';

/** The WebSocket gateway in embedded mode: authentication, bad frames, someone else’s conversation. */
describe('WebSocket gateway (embedded)', function () {
  this.timeout(45_000);
  const gw = gatewayFixture();
  const { call, register, connect, raw } = gw;

  describe('authentication', () => {
    it('accepts the token as a subprotocol, selects parley.v1 and answers ready', async () => {
      const s = await connect(gw.alice);
      expect(s.ws.protocol).to.equal('parley.v1');
      const ready = s.of('ready')[0]!;
      expect(ready).to.include({ userId: gw.alice.id, heartbeatMs: 25_000 });
      expect(ready.limits).to.deep.equal({
        maxFrameBytes: 32768,
        maxBufferedBytes: 1048576,
        framesPerSecond: 20,
        frameBurst: 40,
      });
    });

    it('accepts an auth frame as the first frame, echoing its id', async () => {
      const s = raw();
      await s.open();
      s.send({ type: 'auth', id: 'a1', token: gw.alice.token });
      expect(await s.next('ready')).to.include({ id: 'a1', userId: gw.alice.id });
    });

    it('answers only ping before authentication', async () => {
      const s = raw();
      await s.open();
      s.send({ type: 'ping', id: 'p' });
      s.send({ type: 'send', id: 's', conversationId: gw.direct, clientMsgId: 'x', body: 'early' });
      expect(await s.next('pong')).to.include({ id: 'p' });
      expect(await s.next('error')).to.include({ id: 's', code: 'NOT_AUTHENTICATED' });
    });

    it('closes 4001 when no auth frame arrives in time', async () => {
      const s = raw();
      await s.open();
      expect(await s.closedWith()).to.deep.equal({ code: 4001, reason: 'no auth frame in time' });
    });

    it('closes 4001 for a forged token and 4002 for an expired one', async () => {
      const forged = raw(['parley.v1', `parley.bearer.${gw.alice.token.slice(0, -4)}AAAA`]);
      expect((await forged.closedWith()).code).to.equal(4001);
      const key = await importJWK(gw.jwk, 'EdDSA');
      const past = Math.floor(Date.now() / 1000) - 3600;
      const expired = await new SignJWT({ sid: randomUUID(), roles: [] })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'test-key', typ: 'at+jwt' })
        .setSubject(gw.alice.id)
        .setIssuer('parley-auth')
        .setAudience('parley')
        .setIssuedAt(past - 60)
        .setExpirationTime(past)
        .sign(key);
      const s = raw(['parley.v1', `parley.bearer.${expired}`]);
      expect(await s.closedWith()).to.deep.equal({ code: 4002, reason: 'access token expired' });
    });

    it('refuses a socket without the parley.v1 subprotocol offer being honoured by the client', async () => {
      // A client that offers only other protocols gets none selected: browsers then fail the connection.
      const s = raw(['chat']);
      await s.open().catch(() => undefined);
      await waitFor(() => s.closed !== undefined, { timeoutMs: 5000, what: 'client-side failure' });
    });

    it('warns before the token expires and takes a refreshed token on the open socket', async () => {
      const u = await register(`refresh_${randomUUID().replace(/-/g, '').slice(0, 8)}`);
      const s = await connect(u);
      // A 30 s token is warned about halfway (tokens living over two minutes: a minute ahead).
      const warn = await s.next('token.expiring', {}, 25_000);
      expect(warn.expiresAt).to.equal(s.of('ready')[0]!.tokenExpiresAt);
      const fresh = await call('POST', '/v1/auth/refresh', undefined, { refreshToken: u.refresh });
      s.send({ type: 'auth', id: 'r', token: fresh.body.accessToken });
      const ack = await s.next('ack', { id: 'r' });
      expect(ack).to.include({ for: 'auth' });
      // Refreshed tokens are not warned about again at once (no refresh loop).
      expect(s.of('token.expiring')).to.have.length(1);
      // Another user's token is not a refresh of this session.
      s.send({ type: 'auth', id: 'm', token: gw.bob.token });
      expect(await s.next('error', { id: 'm' })).to.include({ code: 'TOKEN_MISMATCH' });
      expect(s.closed).to.equal(undefined);
    });

    it('closes 4003 at once when the session is revoked', async () => {
      const u = await register(`revoke_${randomUUID().replace(/-/g, '').slice(0, 8)}`);
      const s = await connect(u);
      expect((await call('POST', '/v1/auth/logout', u.token)).status).to.be.oneOf([200, 204]);
      expect(await s.closedWith()).to.deep.equal({ code: 4003, reason: 'session revoked' });
    });

    it('refuses an upgrade from a foreign browser origin with 403, and accepts its own page and native clients', async () => {
      const upgrade = (origin?: string) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(wsUrl(gw.base), ['parley.v1', `parley.bearer.${gw.alice.token}`], {
            ...(origin ? { origin } : {}),
          });
          ws.on('unexpected-response', (_req, res) => resolve(`HTTP ${res.statusCode}`));
          ws.on('message', (d) => {
            if (String(d).includes('"ready"')) {
              ws.close();
              resolve('ready');
            }
          });
          ws.on('error', () => resolve('error'));
        });
      expect(await upgrade('https://evil.example')).to.equal('HTTP 403');
      expect(await upgrade(new URL(gw.base).origin)).to.equal('ready');
      expect(await upgrade()).to.equal('ready');
    });

    it('closes 4009 beyond the per-user connection cap', async () => {
      const u = await register(`many_${randomUUID().replace(/-/g, '').slice(0, 8)}`);
      for (let i = 0; i < 3; i++) await connect(u);
      const fourth = raw(['parley.v1', `parley.bearer.${u.token}`]);
      expect((await fourth.closedWith()).code).to.equal(4009);
    });
  });

  describe('bad frames', () => {
    const cases: [string, string, string][] = [
      ['not JSON', '{oops', 'MALFORMED_FRAME'],
      ['a JSON array', '[]', 'MALFORMED_FRAME'],
      ['an unknown type', '{"type":"subscribe","id":"u"}', 'UNKNOWN_TYPE'],
      ['missing fields', '{"type":"send","id":"m"}', 'VALIDATION_FAILED'],
      ['wrong types', '{"type":"read","conversationId":"x","seq":"1"}', 'VALIDATION_FAILED'],
      [
        'an operator injection',
        '{"type":"send","conversationId":{"$gt":""},"clientMsgId":"a","body":"x"}',
        'VALIDATION_FAILED',
      ],
      [
        'U+0000 in text (the store cannot hold it)',
        '{"type":"send","conversationId":"00000000-0000-4000-8000-000000000000","clientMsgId":"a","body":"x\\u0000"}',
        'VALIDATION_FAILED',
      ],
    ];
    for (const [what, text, code] of cases)
      it(`answers ${what} with ${code} and keeps the socket`, async () => {
        const s = await connect(gw.alice);
        s.send(text);
        expect((await s.next('error')).code).to.equal(code);
        s.send({ type: 'ping', id: 'after' });
        await s.next('pong', { id: 'after' });
        expect(s.closed).to.equal(undefined);
      });

    it('answers a binary frame with MALFORMED_FRAME', async () => {
      const s = await connect(gw.alice);
      s.ws.send(Buffer.from([1, 2, 3]));
      expect(await s.next('error')).to.include({
        code: 'MALFORMED_FRAME',
        message: 'binary frames are not accepted',
      });
    });

    it('closes 1009 on an oversize frame and keeps serving others', async () => {
      const s = await connect(gw.alice);
      const other = await connect(gw.bob);
      s.send({ type: 'send', conversationId: gw.direct, clientMsgId: 'big', body: 'x'.repeat(33_000) });
      expect((await s.closedWith()).code).to.equal(1009);
      other.send({ type: 'ping', id: 'still' });
      await other.next('pong', { id: 'still' });
    });

    it('refuses an anonymous frame nested 6,000 deep with MALFORMED_FRAME and 4000, and keeps serving', async () => {
      // The attack of #15: a 12 KB frame that overflowed the stack of the U+0000 walk and ended the process.
      const s = raw(['parley.v1']);
      await s.open();
      s.send(`{"type":"auth","token":"x","y":${'['.repeat(6000)}${']'.repeat(6000)}}`);
      expect(await s.next('error')).to.deep.equal({
        type: 'error',
        code: 'MALFORMED_FRAME',
        message: 'JSON nests deeper than 32 levels',
      });
      expect(await s.closedWith()).to.deep.equal({ code: 4000, reason: 'JSON nests deeper than 32 levels' });
      const other = await connect(gw.bob);
      other.send({ type: 'ping', id: 'alive' });
      await other.next('pong', { id: 'alive' });
      const res = await call('GET', '/healthz');
      expect(res.status).to.equal(200);
    });

    it('refuses a frame with a flood of keys with MALFORMED_FRAME and 4000', async () => {
      const s = await connect(gw.alice);
      const keys = Array.from({ length: 2100 }, (_, i) => `"k${i}":0`).join(',');
      s.send(`{"type":"ping",${keys}}`);
      expect(await s.next('error')).to.include({
        code: 'MALFORMED_FRAME',
        message: 'JSON has more than 2048 object keys',
      });
      expect((await s.closedWith()).code).to.equal(4000);
    });

    it('answers a REST body nested 10,000 deep with 400 MALFORMED_JSON, not 500', async () => {
      const deep = `{"type":"group","title":"t","members":["bob"],"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
      const res = await fetch(`${gw.base}/v1/conversations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.alice.token}`, 'content-type': 'application/json' },
        body: deep,
      });
      expect(res.status).to.equal(400);
      expect(await res.json()).to.include({
        code: 'MALFORMED_JSON',
        detail: 'JSON nests deeper than 32 levels',
      });
    });

    it('closes 4000 after a stream of invalid frames', async () => {
      const s = await connect(gw.alice);
      for (let i = 0; i < 25; i++) s.send('nope');
      expect(await s.closedWith()).to.deep.equal({ code: 4000, reason: 'too many invalid frames' });
    });

    it('rate limits a flood with one error, then closes 4008, while others are served', async () => {
      const s = await connect(gw.alice);
      const other = await connect(gw.bob);
      for (let i = 0; i < 200; i++) s.send({ type: 'ping' });
      const err = await s.next('error', { code: 'RATE_LIMITED' });
      expect(err.retryAfterMs).to.be.a('number');
      expect(await s.closedWith()).to.deep.equal({ code: 4008, reason: 'frame flood' });
      expect(s.of('error').filter((e) => e.code === 'RATE_LIMITED').length).to.be.lessThan(3);
      other.send({ type: 'ping', id: 'ok' });
      await other.next('pong', { id: 'ok' });
    });
  });

  describe('someone else’s conversation', () => {
    it('gets CONVERSATION_NOT_FOUND for send, typing, read and resume, and no data', async () => {
      const s = await connect(gw.carol);
      s.send({ type: 'send', id: 's', conversationId: gw.direct, clientMsgId: 'c1', body: 'intrude' });
      s.send({ type: 'typing', id: 't', conversationId: gw.direct });
      s.send({ type: 'read', id: 'r', conversationId: gw.direct, seq: 1 });
      s.send({ type: 'resume', id: 'z', cursors: { [gw.direct]: 0 } });
      for (const id of ['s', 't', 'r'])
        expect(await s.next('error', { id })).to.include({ code: 'CONVERSATION_NOT_FOUND' });
      const resumed = await s.next('resumed', { id: 'z' });
      expect(resumed.conversations).to.deep.equal({});
      expect(s.of('error').filter((e) => e.id === 'z')[0]).to.include({ conversationId: gw.direct });
      expect(s.of('message.created')).to.have.length(0);
    });

    it('answers resume with nonsense cursors with INVALID_CURSOR', async () => {
      const s = await connect(gw.alice);
      for (const cursors of [
        { x: 1 },
        { [gw.direct]: -3 },
        { [gw.direct]: 'ten' },
        { [gw.direct]: { $gt: 0 } },
      ]) {
        const id = randomUUID().slice(0, 8);
        s.send({ type: 'resume', id, cursors });
        expect(await s.next('error', { id })).to.include({ code: 'INVALID_CURSOR' });
      }
      s.send({ type: 'resume', id: 'arr', cursors: [1, 2] });
      expect(await s.next('error', { id: 'arr' })).to.include({ code: 'VALIDATION_FAILED' });
    });
  });
});
