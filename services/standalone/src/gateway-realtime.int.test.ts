import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@parley/common';
import { runStandalone } from './app.ts';
import { TestSocket, wsUrl } from '@parley/common/testing';

import { gatewayFixture } from './gateway.fixture.ts';

/** The WebSocket gateway in embedded mode: messages in real time, resume, the pending-auth pool, drain. */
describe('WebSocket gateway (embedded): real time, limits, drain', function () {
  this.timeout(45_000);
  const gw = gatewayFixture();
  const { call, register, connect } = gw;

  describe('messages in real time', () => {
    it('acks a send after Kafka, then delivers message.created to both members', async () => {
      const a = await connect(gw.alice);
      const b = await connect(gw.bob);
      const clientMsgId = randomUUID();
      a.send({ type: 'send', id: 'k', conversationId: gw.direct, clientMsgId, body: 'hello gw.bob' });
      const ack = await a.next('ack', { id: 'k' });
      expect(ack).to.include({ for: 'send', conversationId: gw.direct, clientMsgId });
      const got = await b.next('message.created');
      expect(got.data).to.include({ id: ack.messageId, body: 'hello gw.bob', senderId: gw.alice.id });
      expect(got).to.not.have.property('recipients');
      await a.next('message.created');
    });

    it('acks a resend of a stored message with its seq and broadcasts it no second time (#18)', async () => {
      const a = await connect(gw.alice);
      const b = await connect(gw.bob);
      const clientMsgId = randomUUID();
      const frame = { type: 'send', conversationId: gw.direct, clientMsgId, body: 'once only' };
      a.send({ ...frame, id: 'r1' });
      const first = await a.next('ack', { id: 'r1' });
      const created = (await b.next('message.created', { conversationId: gw.direct })).data as {
        id: string;
        seq: number;
      };
      expect(created.id).to.equal(first.messageId);
      a.send({ ...frame, id: 'r2', resend: true });
      const again = await a.next('ack', { id: 'r2' });
      expect(again).to.include({ messageId: first.messageId, seq: created.seq });
      // A later message arrives, and nothing for the resent one came before it.
      a.send({
        type: 'send',
        id: 'r3',
        conversationId: gw.direct,
        clientMsgId: randomUUID(),
        body: 'marker',
      });
      const marker = await a.next('ack', { id: 'r3' });
      const ids = () => b.of('message.created').map((e) => (e.data as { id: string }).id);
      await waitFor(() => ids().includes(marker.messageId as string), { what: 'the marker' });
      expect(ids().filter((id) => id === first.messageId)).to.have.length(1);
    });

    it('replays exactly the gap in seq order, then live events with no duplicate across the boundary', async () => {
      const group = (
        await call('POST', '/v1/conversations', gw.alice.token, {
          type: 'group',
          title: 'gap',
          members: ['bob'],
        })
      ).body.id as string;
      const a = await connect(gw.alice);
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
          (await call('GET', `/v1/conversations/${group}/messages`, gw.bob.token)).body.messages.length === 6,
        {
          timeoutMs: 10_000,
          what: '6 stored',
        },
      );
      const b = await connect(gw.bob);
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
      const a = await connect(gw.alice);
      // A new gw.direct chat reaches the socket through the user's own channel.
      const dm = (
        await call('POST', '/v1/conversations', gw.alice.token, { type: 'direct', members: [u.username] })
      ).body.id as string;
      await s.next('conversation.updated', { conversationId: dm });
      a.send({ type: 'send', id: 'd1', conversationId: dm, clientMsgId: 'dm-1', body: 'welcome' });
      expect((await s.next('message.created', { conversationId: dm })).data).to.include({ body: 'welcome' });
      // Added to an existing group: member.added, then its messages.
      const group = (
        await call('POST', '/v1/conversations', gw.alice.token, {
          type: 'group',
          title: 'later',
          members: ['bob'],
        })
      ).body.id as string;
      await call('POST', `/v1/conversations/${group}/members`, gw.alice.token, { members: [u.username] });
      await s.next('member.added', { conversationId: group });
      a.send({ type: 'send', id: 'g1', conversationId: group, clientMsgId: 'g-1', body: 'hi all' });
      await s.next('message.created', { conversationId: group });
      // Removed: told so, and nothing after.
      await call('DELETE', `/v1/conversations/${group}/members/${u.id}`, gw.alice.token);
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
      const a = await connect(gw.alice);
      const b = await connect(gw.bob);
      a.send({ type: 'typing', conversationId: gw.direct });
      a.send({ type: 'typing', conversationId: gw.direct });
      a.send({ type: 'typing', conversationId: gw.direct, state: 'stopped' });
      await waitFor(() => b.of('typing').length >= 2, { timeoutMs: 5000, what: 'typing frames' });
      expect(b.of('typing').map((f) => f.state)).to.deep.equal(['started', 'stopped']);
      expect(a.of('typing')).to.have.length(0);
      const msgs = await call('GET', `/v1/conversations/${gw.direct}/messages`, gw.alice.token);
      expect(msgs.body.messages.every((m: { body?: string }) => m.body !== undefined)).to.equal(true);
    });

    it('pushes presence to the other member and serves it over REST to members only', async () => {
      const u = await register(`pres_${randomUUID().replace(/-/g, '').slice(0, 8)}`);
      const conv = (
        await call('POST', '/v1/conversations', gw.alice.token, { type: 'direct', members: [u.username] })
      ).body.id;
      // A conversation someone else started shares the invitee's presence once accepted (#15).
      expect((await call('POST', `/v1/conversations/${conv}/accept`, u.token)).status).to.equal(200);
      const a = await connect(gw.alice);
      const s = await connect(u);
      expect(await a.next('presence', { userId: u.id })).to.include({ status: 'online' });
      s.send({ type: 'presence', id: 'aw', status: 'away' });
      await s.next('ack', { id: 'aw' });
      await a.next('presence', { userId: u.id, status: 'away' });
      s.close();
      const off = await a.next('presence', { userId: u.id, status: 'offline' });
      expect(off.lastSeen).to.be.a('string');
      const rest = await call('GET', `/v1/conversations/${conv}/presence`, gw.alice.token);
      expect(rest.body.members.find((m: { userId: string }) => m.userId === u.id)).to.include({
        status: 'offline',
      });
      expect((await call('GET', `/v1/conversations/${conv}/presence`, gw.carol.token)).status).to.equal(404);
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
