import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningJwk } from '@parley/auth';
import { waitFor, type Running } from '@parley/common';
import { importJWK, SignJWT, type JWK } from 'jose';
import { WebSocket } from 'ws';
import { runStandalone } from './app.ts';
import { TestSocket, wsUrl } from '@parley/common/testing';
import { restClient, SocketPool, type User } from './testkit.ts';

/** The WebSocket gateway in embedded mode: protocol, limits, bad frames, resume, drain. */
describe('WebSocket gateway (embedded)', function () {
  this.timeout(45_000);
  let running: Running;
  let dir: string;
  let base: string;
  let jwk: JWK;
  let alice: User;
  let bob: User;
  let carol: User;
  let direct: string;

  const { call, register } = restClient(() => base);
  const pool = new SocketPool(() => base);
  const sockets = pool.sockets;
  const connect = (u: User) => pool.connect(u);
  const raw = (protocols?: string[]) => {
    const s = new TestSocket(wsUrl(base), protocols);
    sockets.push(s);
    return s;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-gw-'));
    jwk = await generateSigningJwk('test-key');
    running = await runStandalone({
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      JWT_SIGNING_KEYS: JSON.stringify([jwk]),
      ACCESS_TOKEN_TTL_SECONDS: '30',
      WS_AUTH_TIMEOUT_MS: '400',
      WS_MAX_FRAME_BYTES: '32768',
      WS_FRAMES_PER_SECOND: '20',
      WS_FRAME_BURST: '40',
      WS_MAX_CONNECTIONS_PER_USER: '3',
      WS_TYPING_THROTTLE_MS: '60000',
      WS_DRAIN_MS: '300',
      RATE_LIMIT_PER_MINUTE: '100000',
      SEND_RATE_PER_MINUTE: '100000',
      RATE_LIMIT_REGISTER_PER_15MIN: '1000',
    });
    await running.ready;
    base = running.url;
    [alice, bob, carol] = (await Promise.all(['alice', 'bob', 'carol'].map(register))) as [User, User, User];
    direct = (await call('POST', '/v1/conversations', alice.token, { type: 'direct', members: ['bob'] })).body
      .id;
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.ws.terminate();
  });
  after(async () => {
    await running?.stop('test');
    rmSync(dir, { recursive: true, force: true });
  });

  describe('authentication', () => {
    it('accepts the token as a subprotocol, selects parley.v1 and answers ready', async () => {
      const s = await connect(alice);
      expect(s.ws.protocol).to.equal('parley.v1');
      const ready = s.of('ready')[0]!;
      expect(ready).to.include({ userId: alice.id, heartbeatMs: 25_000 });
      expect(ready.limits).to.deep.equal({
        maxFrameBytes: 32768,
        maxBufferedBytes: 1048576,
        framesPerSecond: 20,
      });
    });

    it('accepts an auth frame as the first frame, echoing its id', async () => {
      const s = raw();
      await s.open();
      s.send({ type: 'auth', id: 'a1', token: alice.token });
      expect(await s.next('ready')).to.include({ id: 'a1', userId: alice.id });
    });

    it('answers only ping before authentication', async () => {
      const s = raw();
      await s.open();
      s.send({ type: 'ping', id: 'p' });
      s.send({ type: 'send', id: 's', conversationId: direct, clientMsgId: 'x', body: 'early' });
      expect(await s.next('pong')).to.include({ id: 'p' });
      expect(await s.next('error')).to.include({ id: 's', code: 'NOT_AUTHENTICATED' });
    });

    it('closes 4001 when no auth frame arrives in time', async () => {
      const s = raw();
      await s.open();
      expect(await s.closedWith()).to.deep.equal({ code: 4001, reason: 'no auth frame in time' });
    });

    it('closes 4001 for a forged token and 4002 for an expired one', async () => {
      const forged = raw(['parley.v1', `parley.bearer.${alice.token.slice(0, -4)}AAAA`]);
      expect((await forged.closedWith()).code).to.equal(4001);
      const key = await importJWK(jwk, 'EdDSA');
      const past = Math.floor(Date.now() / 1000) - 3600;
      const expired = await new SignJWT({ sid: randomUUID(), roles: [] })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'test-key', typ: 'at+jwt' })
        .setSubject(alice.id)
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
      s.send({ type: 'auth', id: 'm', token: bob.token });
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
          const ws = new WebSocket(wsUrl(base), ['parley.v1', `parley.bearer.${alice.token}`], {
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
      expect(await upgrade(new URL(base).origin)).to.equal('ready');
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
        const s = await connect(alice);
        s.send(text);
        expect((await s.next('error')).code).to.equal(code);
        s.send({ type: 'ping', id: 'after' });
        await s.next('pong', { id: 'after' });
        expect(s.closed).to.equal(undefined);
      });

    it('answers a binary frame with MALFORMED_FRAME', async () => {
      const s = await connect(alice);
      s.ws.send(Buffer.from([1, 2, 3]));
      expect(await s.next('error')).to.include({
        code: 'MALFORMED_FRAME',
        message: 'binary frames are not accepted',
      });
    });

    it('closes 1009 on an oversize frame and keeps serving others', async () => {
      const s = await connect(alice);
      const other = await connect(bob);
      s.send({ type: 'send', conversationId: direct, clientMsgId: 'big', body: 'x'.repeat(33_000) });
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
      const other = await connect(bob);
      other.send({ type: 'ping', id: 'alive' });
      await other.next('pong', { id: 'alive' });
      const res = await call('GET', '/healthz');
      expect(res.status).to.equal(200);
    });

    it('refuses a frame with a flood of keys with MALFORMED_FRAME and 4000', async () => {
      const s = await connect(alice);
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
      const res = await fetch(`${base}/v1/conversations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
        body: deep,
      });
      expect(res.status).to.equal(400);
      expect(await res.json()).to.include({
        code: 'MALFORMED_JSON',
        detail: 'JSON nests deeper than 32 levels',
      });
    });

    it('closes 4000 after a stream of invalid frames', async () => {
      const s = await connect(alice);
      for (let i = 0; i < 25; i++) s.send('nope');
      expect(await s.closedWith()).to.deep.equal({ code: 4000, reason: 'too many invalid frames' });
    });

    it('rate limits a flood with one error, then closes 4008, while others are served', async () => {
      const s = await connect(alice);
      const other = await connect(bob);
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
      const s = await connect(carol);
      s.send({ type: 'send', id: 's', conversationId: direct, clientMsgId: 'c1', body: 'intrude' });
      s.send({ type: 'typing', id: 't', conversationId: direct });
      s.send({ type: 'read', id: 'r', conversationId: direct, seq: 1 });
      s.send({ type: 'resume', id: 'z', cursors: { [direct]: 0 } });
      for (const id of ['s', 't', 'r'])
        expect(await s.next('error', { id })).to.include({ code: 'CONVERSATION_NOT_FOUND' });
      const resumed = await s.next('resumed', { id: 'z' });
      expect(resumed.conversations).to.deep.equal({});
      expect(s.of('error').filter((e) => e.id === 'z')[0]).to.include({ conversationId: direct });
      expect(s.of('message.created')).to.have.length(0);
    });

    it('answers resume with nonsense cursors with INVALID_CURSOR', async () => {
      const s = await connect(alice);
      for (const cursors of [{ x: 1 }, { [direct]: -3 }, { [direct]: 'ten' }, { [direct]: { $gt: 0 } }]) {
        const id = randomUUID().slice(0, 8);
        s.send({ type: 'resume', id, cursors });
        expect(await s.next('error', { id })).to.include({ code: 'INVALID_CURSOR' });
      }
      s.send({ type: 'resume', id: 'arr', cursors: [1, 2] });
      expect(await s.next('error', { id: 'arr' })).to.include({ code: 'VALIDATION_FAILED' });
    });
  });

  describe('messages in real time', () => {
    it('acks a send after Kafka, then delivers message.created to both members', async () => {
      const a = await connect(alice);
      const b = await connect(bob);
      const clientMsgId = randomUUID();
      a.send({ type: 'send', id: 'k', conversationId: direct, clientMsgId, body: 'hello bob' });
      const ack = await a.next('ack', { id: 'k' });
      expect(ack).to.include({ for: 'send', conversationId: direct, clientMsgId });
      const got = await b.next('message.created');
      expect(got.data).to.include({ id: ack.messageId, body: 'hello bob', senderId: alice.id });
      expect(got).to.not.have.property('recipients');
      await a.next('message.created');
    });

    it('acks a resend of a stored message with its seq and broadcasts it no second time (#18)', async () => {
      const a = await connect(alice);
      const b = await connect(bob);
      const clientMsgId = randomUUID();
      const frame = { type: 'send', conversationId: direct, clientMsgId, body: 'once only' };
      a.send({ ...frame, id: 'r1' });
      const first = await a.next('ack', { id: 'r1' });
      const created = (await b.next('message.created', { conversationId: direct })).data as {
        id: string;
        seq: number;
      };
      expect(created.id).to.equal(first.messageId);
      a.send({ ...frame, id: 'r2', resend: true });
      const again = await a.next('ack', { id: 'r2' });
      expect(again).to.include({ messageId: first.messageId, seq: created.seq });
      // A later message arrives, and nothing for the resent one came before it.
      a.send({ type: 'send', id: 'r3', conversationId: direct, clientMsgId: randomUUID(), body: 'marker' });
      const marker = await a.next('ack', { id: 'r3' });
      const ids = () => b.of('message.created').map((e) => (e.data as { id: string }).id);
      await waitFor(() => ids().includes(marker.messageId as string), { what: 'the marker' });
      expect(ids().filter((id) => id === first.messageId)).to.have.length(1);
    });

    it('replays exactly the gap in seq order, then live events with no duplicate across the boundary', async () => {
      const group = (
        await call('POST', '/v1/conversations', alice.token, {
          type: 'group',
          title: 'gap',
          members: ['bob'],
        })
      ).body.id as string;
      const a = await connect(alice);
      const sendAll = async (n: number, tag: string) => {
        for (let i = 0; i < n; i++)
          a.send({
            type: 'send',
            id: `${tag}${i}`,
            conversationId: group,
            clientMsgId: `${tag}-${i}`,
            body: `${tag} ${i}`,
          });
        for (let i = 0; i < n; i++) await a.next('ack', { id: `${tag}${i}` });
      };
      await sendAll(6, 'early');
      await waitFor(
        async () =>
          (await call('GET', `/v1/conversations/${group}/messages`, bob.token)).body.messages.length === 6,
        {
          timeoutMs: 10_000,
          what: '6 stored',
        },
      );
      const b = await connect(bob);
      b.send({ type: 'resume', id: 'res', cursors: { [group]: 2 } });
      await sendAll(3, 'late');
      const resumed = await b.next('resumed', { id: 'res' });
      await waitFor(
        () => b.of('message.created').filter((f) => (f.data as { seq: number }).seq > 2).length >= 7,
        {
          timeoutMs: 10_000,
          what: 'replay and live',
        },
      );
      const seqs = b.of('message.created').map((f) => (f.data as { seq: number }).seq);
      expect(seqs.slice(0, 4)).to.deep.equal([3, 4, 5, 6]);
      expect(
        b
          .of('message.created')
          .slice(0, 4)
          .every((f) => f.replay === true),
      ).to.equal(true);
      expect(new Set(seqs).size).to.equal(seqs.length);
      expect([...seqs].sort((x, y) => x - y)).to.deep.equal([3, 4, 5, 6, 7, 8, 9]);
      expect(resumed.conversations).to.have.property(group).that.is.within(6, 9);
    });

    it('follows conversations created or joined while connected, and stops at removal', async () => {
      const u = await register(`join_${randomUUID().replace(/-/g, '').slice(0, 8)}`);
      const s = await connect(u);
      const a = await connect(alice);
      // A new direct chat reaches the socket through the user's own channel.
      const dm = (
        await call('POST', '/v1/conversations', alice.token, { type: 'direct', members: [u.username] })
      ).body.id as string;
      await s.next('conversation.updated', { conversationId: dm });
      a.send({ type: 'send', id: 'd1', conversationId: dm, clientMsgId: 'dm-1', body: 'welcome' });
      expect((await s.next('message.created', { conversationId: dm })).data).to.include({ body: 'welcome' });
      // Added to an existing group: member.added, then its messages.
      const group = (
        await call('POST', '/v1/conversations', alice.token, {
          type: 'group',
          title: 'later',
          members: ['bob'],
        })
      ).body.id as string;
      await call('POST', `/v1/conversations/${group}/members`, alice.token, { members: [u.username] });
      await s.next('member.added', { conversationId: group });
      a.send({ type: 'send', id: 'g1', conversationId: group, clientMsgId: 'g-1', body: 'hi all' });
      await s.next('message.created', { conversationId: group });
      // Removed: told so, and nothing after.
      await call('DELETE', `/v1/conversations/${group}/members/${u.id}`, alice.token);
      await s.next('member.removed', { conversationId: group });
      a.send({ type: 'send', id: 'g2', conversationId: group, clientMsgId: 'g-2', body: 'secret' });
      await waitFor(() => a.of('message.created').filter((f) => f.conversationId === group).length >= 2, {
        timeoutMs: 5000,
        what: 'second group message on the sender',
      });
      expect(s.of('message.created').filter((f) => f.conversationId === group)).to.have.length(1);
      s.send({ type: 'typing', id: 'tg', conversationId: group });
      expect(await s.next('error', { id: 'tg' })).to.include({ code: 'CONVERSATION_NOT_FOUND' });
    });

    it('relays typing to the other member once per throttle window, and never stores it', async () => {
      const a = await connect(alice);
      const b = await connect(bob);
      a.send({ type: 'typing', conversationId: direct });
      a.send({ type: 'typing', conversationId: direct });
      a.send({ type: 'typing', conversationId: direct, state: 'stopped' });
      await waitFor(() => b.of('typing').length >= 2, { timeoutMs: 5000, what: 'typing frames' });
      expect(b.of('typing').map((f) => f.state)).to.deep.equal(['started', 'stopped']);
      expect(a.of('typing')).to.have.length(0);
      const msgs = await call('GET', `/v1/conversations/${direct}/messages`, alice.token);
      expect(msgs.body.messages.every((m: { body?: string }) => m.body !== undefined)).to.equal(true);
    });

    it('pushes presence to the other member and serves it over REST to members only', async () => {
      const u = await register(`pres_${randomUUID().replace(/-/g, '').slice(0, 8)}`);
      const conv = (
        await call('POST', '/v1/conversations', alice.token, { type: 'direct', members: [u.username] })
      ).body.id;
      // A conversation someone else started shares the invitee's presence once accepted (#15).
      expect((await call('POST', `/v1/conversations/${conv}/accept`, u.token)).status).to.equal(200);
      const a = await connect(alice);
      const s = await connect(u);
      expect(await a.next('presence', { userId: u.id })).to.include({ status: 'online' });
      s.send({ type: 'presence', id: 'aw', status: 'away' });
      await s.next('ack', { id: 'aw' });
      await a.next('presence', { userId: u.id, status: 'away' });
      s.close();
      const off = await a.next('presence', { userId: u.id, status: 'offline' });
      expect(off.lastSeen).to.be.a('string');
      const rest = await call('GET', `/v1/conversations/${conv}/presence`, alice.token);
      expect(rest.body.members.find((m: { userId: string }) => m.userId === u.id)).to.include({
        status: 'offline',
      });
      expect((await call('GET', `/v1/conversations/${conv}/presence`, carol.token)).status).to.equal(404);
    });
  });

  it('refuses anonymous sockets beyond the pending-auth pool, but never a socket that shows a token', async () => {
    const d = mkdtempSync(join(tmpdir(), 'parley-gw-pool-'));
    const r = await runStandalone({
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: d,
      LOG_LEVEL: 'silent',
      WS_MAX_PENDING_AUTH: '2',
    });
    const opened: TestSocket[] = [];
    try {
      await r.ready;
      const reg = await fetch(`${r.url}/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'pooled', password: 'correct horse battery' }),
      });
      const token = ((await reg.json()) as { tokens: { accessToken: string } }).tokens.accessToken;
      for (let i = 0; i < 2; i++) {
        const s = new TestSocket(wsUrl(r.url));
        opened.push(s);
        await s.open();
      }
      const third = new TestSocket(wsUrl(r.url));
      opened.push(third);
      let refused = '';
      await third.open().catch((err: Error) => (refused = err.message));
      expect(refused).to.equal('HTTP 503');
      const withToken = await TestSocket.bearer(r.url, token);
      opened.push(withToken);
      expect(withToken.of('ready')).to.have.length(1);
    } finally {
      for (const s of opened) s.ws.terminate();
      await r.stop('test');
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('drains on shutdown: a reconnect frame with a jittered delay, then 1012', async () => {
    const d = mkdtempSync(join(tmpdir(), 'parley-gw-drain-'));
    const r = await runStandalone({
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: d,
      LOG_LEVEL: 'silent',
      WS_DRAIN_MS: '300',
    });
    try {
      await r.ready;
      const reg = await fetch(`${r.url}/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'drainer', password: 'correct horse battery' }),
      });
      const token = ((await reg.json()) as { tokens: { accessToken: string } }).tokens.accessToken;
      const s = await TestSocket.bearer(r.url, token);
      const stopped = r.stop('test');
      const rc = await s.next('reconnect');
      expect(rc.afterMs).to.be.within(0, 300);
      expect((await s.closedWith()).code).to.equal(1012);
      expect(await stopped).to.equal(true);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
