import { expect } from 'chai';
import { waitFor } from '@parley/common';
import { ParleyClient } from './client.ts';
import type { ClientFrame, ServerFrame } from './frames.ts';
import { ChatReplica } from './replica.ts';
import { ParleySocket } from './socket.ts';
import type { WebSocketLike } from './sockettypes.ts';
import type { Message } from './types.ts';

const C = 'c0000000-0000-4000-8000-000000000001';

/** An in-memory WebSocket: the test plays the server. */
class FakeWS implements WebSocketLike {
  static all: FakeWS[] = [];
  readyState = 0;
  sent: ClientFrame[] = [];
  onopen: ((ev: never) => void) | null = null;
  onmessage: ((ev: never) => void) | null = null;
  onclose: ((ev: never) => void) | null = null;
  onerror: ((ev: never) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    FakeWS.all.push(this);
    queueMicrotask(() => {
      this.readyState = 1;
      (this.onopen as ((ev: unknown) => void) | null)?.({});
    });
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data) as ClientFrame);
  }
  close(): void {
    this.readyState = 3;
  }
  deliver(frame: ServerFrame | Record<string, unknown>): void {
    (this.onmessage as ((ev: { data: string }) => void) | null)?.({ data: JSON.stringify(frame) });
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    (this.onclose as ((ev: { code: number; reason: string }) => void) | null)?.({ code, reason });
  }
  ready(limits: Record<string, number> = {}): void {
    this.deliver({
      type: 'ready',
      connectionId: `conn${FakeWS.all.indexOf(this)}`,
      userId: 'u1',
      sessionId: 's1',
      heartbeatMs: 60_000,
      tokenExpiresAt: Date.now() + 900_000,
      limits: { maxFrameBytes: 65_536, maxBufferedBytes: 1_048_576, framesPerSecond: 50, ...limits },
    });
  }
}

/** waitFor options for this file's fake sockets: everything happens within milliseconds. */
const soon = (what: string) => ({ what, timeoutMs: 2_000, intervalMs: 2 });

const msg = (seq: number, id = `m${seq}`): Message => ({
  id,
  conversationId: C,
  seq,
  senderId: 'u2',
  clientMsgId: `k${seq}`,
  body: `hello ${seq}`,
  createdAt: new Date().toISOString(),
  editCount: 0,
});
const created = (m: Message, replay = false) => ({
  type: 'message.created',
  eventId: `e-${m.id}`,
  conversationId: C,
  occurredAt: m.createdAt,
  data: m,
  ...(replay ? { replay } : {}),
});

function session() {
  FakeWS.all = [];
  const client = new ParleyClient({
    baseUrl: 'https://chat.example',
    fetch: (() => Promise.reject(new Error('no REST in this test'))) as unknown as typeof fetch,
    tokens: {
      tokenType: 'Bearer',
      accessToken: 'at1',
      accessTokenExpiresAt: new Date(Date.now() + 900_000).toISOString(),
      refreshToken: 'rt1',
      refreshTokenExpiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      sessionId: 's1',
    },
  });
  const socket = new ParleySocket({ client, WebSocket: FakeWS, backoff: { baseMs: 1, maxMs: 5 } });
  const messages: string[] = [];
  socket.on('message', (m, meta) => messages.push(`${m.id}${meta.replay ? ' (replay)' : ''}`));
  return {
    socket,
    messages,
    ws: (i: number) => waitFor(() => FakeWS.all[i], soon(`socket ${i}`)),
  };
}

describe('ParleySocket (in-memory WebSocket)', () => {
  it('authenticates with the bearer subprotocol on the ws: URL', async () => {
    const { socket, ws } = session();
    const ready = socket.connect();
    const w = await ws(0);
    expect(w.url).to.equal('wss://chat.example/v1/ws');
    expect(w.protocols).to.deep.equal(['parley.v1', 'parley.bearer.at1']);
    w.ready();
    expect((await ready).userId).to.equal('u1');
    expect(socket.state).to.equal('open');
    socket.close();
  });

  it('re-sends an unacked message with the same clientMsgId after reconnect, then resolves it', async () => {
    const { socket, ws } = session();
    void socket.connect();
    const w0 = await ws(0);
    w0.ready();
    const sent = socket.send(C, { body: 'hi', clientMsgId: 'k-1' });
    expect(w0.sent.map((f) => f.type)).to.deep.equal(['send']);
    w0.serverClose(1006);
    const w1 = await ws(1);
    w1.ready();
    const resend = await waitFor(() => w1.sent.find((f) => f.type === 'send'), soon('re-send'));
    expect(resend).to.include({ conversationId: C, clientMsgId: 'k-1', body: 'hi' });
    w1.deliver({ type: 'ack', for: 'send', messageId: 'mid', conversationId: C, clientMsgId: 'k-1' });
    expect((await sent).messageId).to.equal('mid');
    expect(socket.outboxSize).to.equal(0);
    socket.close();
  });

  it('resumes from the highest contiguous seq and drops duplicates across the boundary', async () => {
    const { socket, messages, ws } = session();
    void socket.connect();
    const w0 = await ws(0);
    w0.ready();
    w0.deliver(created(msg(1)));
    w0.deliver(created(msg(2)));
    w0.serverClose(4010, 'slow consumer');
    const w1 = await ws(1);
    w1.ready();
    const resume = await waitFor(() => w1.sent.find((f) => f.type === 'resume'), soon('resume'));
    expect(resume).to.deep.include({ cursors: { [C]: 2 } });
    w1.deliver(created(msg(2), true)); // a duplicate the SDK must drop
    w1.deliver(created(msg(3), true));
    w1.deliver({ type: 'resumed', conversations: { [C]: 3 } });
    w1.deliver(created(msg(4)));
    expect(messages).to.deep.equal(['m1', 'm2', 'm3 (replay)', 'm4']);
    expect(socket.cursor(C)).to.equal(4);
    socket.close();
  });

  it('resumes changes from the last position held, applies each once, and reports a refetch', async () => {
    const { socket, ws } = session();
    const replica = new ChatReplica();
    socket.on('event', (f) => replica.apply(f));
    const refetched: string[][] = [];
    socket.on('refetch', (ids) => refetched.push(ids));
    const change = (pos: number, type: string, data: Record<string, unknown>, replay = true) => ({
      type,
      eventId: `ev${pos}`,
      conversationId: C,
      occurredAt: new Date().toISOString(),
      pos,
      data,
      ...(replay ? { replay } : {}),
    });
    void socket.connect();
    const w0 = await ws(0);
    w0.ready();
    w0.deliver(created(msg(1)));
    w0.deliver(created(msg(2)));
    w0.deliver(change(3, 'member.added', { userId: 'u3', by: 'u2' }, false));
    w0.serverClose(4010, 'slow consumer');
    const w1 = await ws(1);
    w1.ready();
    const resume = await waitFor(() => w1.sent.find((f) => f.type === 'resume'), soon('resume'));
    expect(resume).to.deep.include({ cursors: { [C]: { seq: 2, pos: 3 } } });
    const edited = change(4, 'message.edited', { message: { ...msg(1), body: 'edited', editCount: 1 } });
    w1.deliver(edited);
    w1.deliver(edited); // the same event twice
    w1.deliver({ ...change(3, 'member.added', { userId: 'u3', by: 'u2' }), eventId: 'other' }); // below the position
    w1.deliver(change(5, 'message.deleted', { id: 'm2', seq: 2, by: 'u2' }));
    w1.deliver(change(6, 'reaction.changed', { messageId: 'm1', emoji: '👍', userId: 'u3', on: true }));
    w1.deliver(change(7, 'member.removed', { userId: 'u3', by: 'u2' }));
    w1.deliver({ type: 'resumed', conversations: { [C]: 2 }, positions: { [C]: 7 } });
    const state = replica.conversation(C);
    expect(state.messages.get('m1')).to.include({ body: 'edited', editCount: 1 });
    expect(state.messages.get('m2')).to.include({ deleted: true }).and.not.have.property('body');
    expect([...state.reactions.get('m1')!.get('👍')!]).to.deep.equal(['u3']);
    expect([...state.members]).to.deep.equal([]);

    // A position jump asks for the changes in between; a refetch answer is passed on.
    w1.deliver(change(9, 'member.added', { userId: 'u4', by: 'u2' }, false));
    const again = w1.sent.filter((f) => f.type === 'resume');
    expect(again.at(-1)).to.deep.include({ cursors: { [C]: { seq: 2, pos: 7 } } });
    w1.deliver({ type: 'resumed', conversations: { [C]: 2 }, positions: { [C]: 20 }, refetch: [C] });
    expect(refetched).to.deep.equal([[C]]);
    w1.serverClose(4010, 'slow consumer');
    const w2 = await ws(2);
    w2.ready();
    const third = await waitFor(() => w2.sent.find((f) => f.type === 'resume'), soon('resume'));
    expect(third).to.deep.include({ cursors: { [C]: { seq: 2, pos: 20 } } });
    socket.close();
  });

  it('stops resuming a conversation it was removed from, and the replica drops it', async () => {
    const { socket, ws } = session();
    const replica = new ChatReplica({ userId: 'u1' });
    socket.on('event', (f) => replica.apply(f));
    const D = 'c0000000-0000-4000-8000-0000000000d2';
    socket.setCursor(C, 2);
    socket.setCursor(D, 0);
    void socket.connect();
    const w0 = await ws(0);
    w0.ready();
    await waitFor(() => w0.sent.find((f) => f.type === 'resume'), soon('resume'));
    // Away while removed from C: the resume tells it with its own member.removed, and C only in positions.
    w0.deliver({
      type: 'member.removed',
      eventId: 'rm1',
      conversationId: C,
      occurredAt: new Date().toISOString(),
      pos: 4,
      replay: true,
      data: { userId: 'u1', by: 'u2' },
    });
    w0.deliver({ type: 'resumed', conversations: { [D]: 0 }, positions: { [C]: 4, [D]: 0 } });
    expect(socket.cursor(C)).to.equal(undefined);
    expect(replica.conversation(C).members.size).to.equal(0);
    w0.serverClose(4010, 'slow consumer');
    const w1 = await ws(1);
    w1.ready();
    const again = await waitFor(() => w1.sent.find((f) => f.type === 'resume'), soon('resume'));
    expect(again).to.deep.include({ cursors: { [D]: { seq: 0, pos: 0 } } });
    socket.close();
  });

  it('asks for the missing messages when a seq jumps ahead', async () => {
    const { socket, ws } = session();
    socket.setCursor(C, 5);
    void socket.connect();
    const w0 = await ws(0);
    w0.ready();
    w0.deliver({ type: 'resumed', conversations: { [C]: 5 } });
    w0.deliver(created(msg(8)));
    w0.deliver(created(msg(9)));
    const resumes = w0.sent.filter((f) => f.type === 'resume');
    expect(resumes).to.have.length(2); // the one at connect, then one for the gap (not one per message)
    expect(resumes[1]).to.deep.include({ cursors: { [C]: 5 } });
    w0.deliver(created(msg(6), true));
    w0.deliver(created(msg(7), true));
    w0.deliver({ type: 'resumed', conversations: { [C]: 9 } });
    expect(socket.cursor(C)).to.equal(9);
    socket.close();
  });

  it('continues a resume the server cut at its limit, and drops repeated presence changes', async () => {
    const { socket, ws } = session();
    const presence: string[] = [];
    socket.on('presence', (p) => presence.push(`${p.userId} ${p.status}`));
    socket.setCursor(C, 0);
    void socket.connect();
    const w0 = await ws(0);
    w0.ready();
    w0.deliver(created(msg(1), true));
    w0.deliver(created(msg(2), true));
    w0.deliver({ type: 'resumed', conversations: { [C]: 2 }, truncated: { [C]: 3 } });
    const resumes = w0.sent.filter((f) => f.type === 'resume');
    expect(resumes.map((f) => f.type === 'resume' && f.cursors)).to.deep.equal([{ [C]: 0 }, { [C]: 2 }]);
    for (const conversationId of ['c1', 'c2'])
      w0.deliver({ type: 'presence', eventId: 'p1', conversationId, userId: 'u2', status: 'online' });
    expect(presence).to.deep.equal(['u2 online']);
    socket.close();
  });

  it('waits the afterMs of a reconnect frame before coming back (1012)', async () => {
    const { socket, ws } = session();
    const states: string[] = [];
    socket.on('state', (s, d) => states.push(d.delayMs === undefined ? s : `${s} ${d.delayMs}`));
    void socket.connect();
    const w0 = await ws(0);
    w0.ready();
    w0.deliver({ type: 'reconnect', afterMs: 7, reason: 'draining' });
    w0.serverClose(1012);
    await ws(1);
    expect(states).to.deep.equal(['connecting', 'open', 'waiting 7', 'connecting']);
    socket.close();
  });

  it('backs off (does not give up) when the token refresh before connecting fails on the network', async () => {
    FakeWS.all = [];
    let calls = 0;
    const client = new ParleyClient({
      baseUrl: 'http://chat.example',
      fetch: (async () => {
        if (++calls === 1) throw new TypeError('fetch failed');
        return new Response(
          JSON.stringify({
            tokenType: 'Bearer',
            accessToken: 'at2',
            accessTokenExpiresAt: new Date(Date.now() + 900_000).toISOString(),
            refreshToken: 'rt2',
            refreshTokenExpiresAt: new Date(Date.now() + 86_400_000).toISOString(),
            sessionId: 's1',
          }),
          { status: 200, headers: { 'content-type': 'application/json' } },
        );
      }) as unknown as typeof fetch,
      tokens: {
        tokenType: 'Bearer',
        accessToken: 'at1',
        accessTokenExpiresAt: new Date(Date.now() + 1_000).toISOString(), // about to expire
        refreshToken: 'rt1',
        refreshTokenExpiresAt: new Date(Date.now() + 86_400_000).toISOString(),
        sessionId: 's1',
      },
    });
    const socket = new ParleySocket({ client, WebSocket: FakeWS, backoff: { baseMs: 1, maxMs: 5 } });
    const states: string[] = [];
    socket.on('state', (s) => states.push(s));
    socket.on('error', () => {});
    void socket.connect();
    const w = await waitFor(() => FakeWS.all[0], soon('a socket after the retry'));
    expect(w.protocols).to.deep.equal(['parley.v1', 'parley.bearer.at2']);
    expect(states.slice(0, 3)).to.deep.equal(['connecting', 'waiting', 'connecting']);
    socket.close();
  });

  it('stops for good on 4003 (revoked) and rejects pending sends', async () => {
    const { socket, ws } = session();
    const connected = socket.connect();
    const w0 = await ws(0);
    w0.ready();
    await connected;
    const sent = socket.send(C, { body: 'x' });
    w0.serverClose(4003, 'revoked');
    expect(await sent.catch((e: Error) => e.message)).to.match(/4003 revoked/);
    expect(socket.state).to.equal('closed');
    expect(FakeWS.all).to.have.length(1);
  });

  it('rejects a send the server refuses, and retries one Kafka did not acknowledge', async () => {
    const { socket, ws } = session();
    void socket.connect();
    const w0 = await ws(0);
    w0.ready();
    const refused = socket.send(C, { body: 'x', clientMsgId: 'bad' });
    const retried = socket.send(C, { body: 'y', clientMsgId: 'later' });
    const [f1, f2] = w0.sent;
    w0.deliver({
      type: 'error',
      id: f1!.id,
      code: 'CONVERSATION_NOT_FOUND',
      message: 'no such conversation',
    });
    w0.deliver({ type: 'error', id: f2!.id, code: 'SEND_FAILED', message: 'timeout', retryAfterMs: 1 });
    expect(await refused.catch((e: Error) => e.message)).to.equal(
      'CONVERSATION_NOT_FOUND: no such conversation',
    );
    await waitFor(() => w0.sent.filter((f) => f.type === 'send').length === 3, soon('the retry'));
    w0.deliver({ type: 'ack', for: 'send', messageId: 'ok', conversationId: C, clientMsgId: 'later' });
    expect((await retried).messageId).to.equal('ok');
    socket.close();
  });

  it('paces a burst of sends to the announced limits, and writes the rest as tokens come', async () => {
    const { socket, ws } = session();
    void socket.connect();
    const w0 = await ws(0);
    // 80% of the server's bucket: 8 at once, then 40 a second.
    w0.ready({ framesPerSecond: 50, frameBurst: 10 });
    const acks = Array.from({ length: 20 }, (_, i) =>
      socket.send(C, { body: `b${i}`, clientMsgId: `k${i}` }),
    );
    const sends = () => w0.sent.filter((f) => f.type === 'send');
    expect(sends(), 'the burst').to.have.length(8);
    await waitFor(() => sends().length === 20 || null, soon('the rest'));
    expect(sends().map((f) => (f as { clientMsgId: string }).clientMsgId)).to.deep.equal(
      Array.from({ length: 20 }, (_, i) => `k${i}`),
    );
    for (let i = 0; i < 20; i++)
      w0.deliver({ type: 'ack', for: 'send', messageId: `id${i}`, conversationId: C, clientMsgId: `k${i}` });
    expect((await Promise.all(acks)).map((a) => a.messageId)).to.have.length(20);
    socket.close();
  });

  it('sends every unacked send again (resend) after an id-less RATE_LIMITED, once the server allows', async () => {
    const { socket, ws } = session();
    void socket.connect();
    const w0 = await ws(0);
    w0.ready();
    const acks = ['a', 'b', 'c'].map((k) => socket.send(C, { body: k, clientMsgId: k }));
    w0.deliver({ type: 'ack', for: 'send', messageId: 'id-a', conversationId: C, clientMsgId: 'a' });
    // The server dropped some frames and cannot say which.
    const at = Date.now();
    w0.deliver({
      type: 'error',
      code: 'RATE_LIMITED',
      message: 'at most 50 frames per second',
      retryAfterMs: 60,
    });
    const sends = () =>
      w0.sent.filter((f) => f.type === 'send') as { clientMsgId: string; resend?: boolean }[];
    const again = await waitFor(() => (sends().length === 5 ? sends().slice(3) : null), soon('the re-sends'));
    expect(Date.now() - at, 'not before retryAfterMs').to.be.at.least(55);
    expect(again.map((f) => [f.clientMsgId, f.resend])).to.deep.equal([
      ['b', true],
      ['c', true],
    ]);
    for (const k of ['b', 'c'])
      w0.deliver({ type: 'ack', for: 'send', messageId: `id-${k}`, conversationId: C, clientMsgId: k });
    expect((await Promise.all(acks)).map((a) => a.messageId)).to.deep.equal(['id-a', 'id-b', 'id-c']);
    socket.close();
  });
});
