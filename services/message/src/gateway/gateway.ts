import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  context,
  contextFrom,
  inSpan,
  ProblemError,
  q,
  REVOCATIONS_CHANNEL,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  traceIdOf,
  tracingEnabled,
  type Cache,
  type Logger,
  type Principal,
} from '@parley/common';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { Chat } from '../chat.ts';
import { messageIdFor } from '../envelopes.ts';
import { Presence, type PresenceStatus } from '../presence.ts';
import type { MessageStore } from '../store.ts';
import { messageView } from '../view.ts';
import { Hub, Outbound, type DeliveryMeta, type HubSocket } from './hub.ts';
import type { GatewayMetrics } from './metrics.ts';
import {
  BEARER_PROTOCOL_PREFIX,
  CloseCodes,
  encodeFrame,
  parseClientFrame,
  parseCursors,
  PROTOCOL,
  type ClientFrame,
  type CloseName,
  type ServerFrameType,
} from './protocol.ts';
import { TokenBucket } from './tokenbucket.ts';

export const WS_PATH = '/v1/ws';

export interface GatewayOptions {
  maxFrameBytes: number;
  maxBufferedBytes: number;
  heartbeatMs: number;
  authTimeoutMs: number;
  maxPendingAuth: number;
  framesPerSecond: number;
  frameBurst: number;
  maxConnectionsPerUser: number;
  resumeMaxMessages: number;
  resumeMaxConversations: number;
  typingThrottleMs: number;
  presenceTtlMs: number;
  presenceMaxMembers: number;
  drainMs: number;
}

export interface GatewayDeps {
  opts: GatewayOptions;
  cache: Cache;
  store: MessageStore;
  chat: Chat;
  authenticate: (token: string) => Promise<Principal>;
  logger: Logger;
  metrics: GatewayMetrics;
}

/** Consecutive invalid frames, or frames ignored while rate limited, before the socket is closed. */
const MAX_STRIKES = 20;
const REPLAY_PAGE = 200;

type Frame = { type: ServerFrameType } & Record<string, unknown>;

/** One client socket. Lean on purpose: idle sockets must stay within a few KB each. */
class Connection implements HubSocket {
  readonly id = randomUUID();
  userId = '';
  principal: Principal | undefined;
  authenticating = false;
  readonly conversations = new Set<string>();
  readonly openedAt = Date.now();
  tokenExp = 0;
  /** When to send token.expiring: a minute ahead, or halfway for tokens that live less than two. */
  expiringAt = 0;
  expiringSent = false;
  alive = true;
  corked = false;
  closing = false;
  closeCode: number | undefined;
  status: 'online' | 'away' = 'online';
  strikes = 0;
  invalid = 0;
  lastRateError = 0;
  chain: Promise<void> = Promise.resolve();
  queued = 0;
  /** Per conversation being resumed: live frames held until the replay is written. */
  resuming: Map<string, { out: Outbound; meta: DeliveryMeta }[]> | undefined;
  /** Per conversation: the last seq replayed; live copies at or below it are dropped. */
  floor: Map<string, number> | undefined;
  typingAt: Map<string, number> | undefined;
  recentPresence: string[] | undefined;
  /**
   * Seqs delivered live in the socket's first minute, before it resumed that conversation: a
   * client resumes right after connecting, and those must not come again in its replay.
   */
  liveBeforeResume: Map<string, Set<number>> | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly bucket: TokenBucket,
    private readonly gw: Gateway,
  ) {}

  deliver(out: Outbound, meta: DeliveryMeta): boolean {
    if (this.closing || !this.principal) return false;
    const conv = meta.conversationId;
    if (conv && this.resuming?.has(conv)) {
      this.resuming.get(conv)!.push({ out, meta });
      return false;
    }
    if (conv && meta.seq !== undefined && meta.seq <= (this.floor?.get(conv) ?? -1)) return false;
    if (meta.eventId) {
      const seen = (this.recentPresence ??= []);
      if (seen.includes(meta.eventId)) return false;
      seen.push(meta.eventId);
      if (seen.length > 16) seen.shift();
    }
    if (!this.gw.write(this, out)) return false;
    if (conv && meta.seq !== undefined && !this.floor?.has(conv) && Date.now() - this.openedAt < 60_000) {
      const seen = (this.liveBeforeResume ??= new Map()).get(conv) ?? new Set<number>();
      if (seen.size < 1000) seen.add(meta.seq);
      this.liveBeforeResume.set(conv, seen);
    }
    return true;
  }
}

/**
 * The WebSocket gateway at `/v1/ws`: authentication, the frames of protocol v1, heartbeats,
 * backpressure, limits, presence, resume and graceful drain. Deliveries come from the Hub.
 */
export class Gateway {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  readonly hub: Hub;
  readonly presence: Presence;
  private pendingAuth = 0;
  private draining = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribeRevocations: (() => Promise<void>) | undefined;
  private readonly groupSizes = new Map<string, { shares: boolean; at: number }>();

  constructor(private readonly d: GatewayDeps) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: d.opts.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    });
    this.hub = new Hub(d.cache, d.logger, (type, n, acceptedAt) => {
      if (n > 0) d.metrics.sent.labels(type).inc(n);
      if (acceptedAt !== undefined && n > 0)
        d.metrics.deliveryLatency.labels('delivered').observe((Date.now() - acceptedAt) / 1000);
    });
    this.presence = new Presence(d.cache, d.opts.presenceTtlMs, Date.now, (s) =>
      d.metrics.presenceChanges.labels(s).inc(),
    );
  }

  get size(): number {
    return this.connections.size;
  }

  /** Starts timers and the revocation listener; call once dependencies are connected. */
  async start(): Promise<void> {
    const { opts } = this.d;
    this.unsubscribeRevocations = await this.d.cache.subscribe(REVOCATIONS_CHANNEL, (m) =>
      this.onRevocation(m),
    );
    const every = (ms: number, fn: () => void | Promise<void>) => {
      const t = setInterval(() => {
        Promise.resolve(fn()).catch((err: unknown) => this.d.logger.warn({ err }, 'gateway timer failed'));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(opts.heartbeatMs, () => this.heartbeat());
    every(Math.min(1000, opts.authTimeoutMs), () => this.checkDeadlines());
    every(Math.floor(opts.presenceTtlMs / 3), () => this.refreshPresence());
  }

  /** Handles an HTTP upgrade to `/v1/ws` (the caller routes by path). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.draining) return refuse(socket, 503, 'Service Unavailable', 'draining');
    const token = bearerFromProtocols(req.headers['sec-websocket-protocol']);
    // The pool bounds sockets that have not shown a token yet: a client presenting one in the
    // subprotocol is verified at once, so anonymous floods cannot lock it out.
    if (!token && this.pendingAuth >= this.d.opts.maxPendingAuth)
      return refuse(socket, 503, 'Service Unavailable', 'too many unauthenticated sockets');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, token));
  }

  private onConnection(ws: WebSocket, token: string | undefined): void {
    const { metrics, opts } = this.d;
    const conn = new Connection(ws, new TokenBucket(opts.framesPerSecond, opts.frameBurst, Date.now()), this);
    this.connections.add(conn);
    this.pendingAuth++;
    metrics.opened.inc();
    metrics.connections.inc();
    ws.on('message', (data, isBinary) => {
      // A throw here would escape into the socket's data handler and end the process, dropping
      // every socket: one bad frame costs its own connection at most.
      try {
        this.onFrame(conn, data, isBinary);
      } catch (err) {
        this.d.logger.error({ err, connectionId: conn.id }, 'frame handling failed');
        this.close(conn, 'INTERNAL', 'unexpected failure');
      }
    });
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', (err) => this.d.logger.debug({ err, connectionId: conn.id }, 'socket error'));
    ws.on('close', (code) => this.onClose(conn, code));
    if (token) this.enqueue(conn, () => this.authenticate(conn, token, undefined));
  }

  /** Writes a frame built once for many sockets; closes a socket whose buffer is full. */
  write(conn: Connection, out: Outbound): boolean {
    const ws = conn.ws;
    if (conn.closing || ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount + out.text.length > this.d.opts.maxBufferedBytes) {
      this.d.metrics.bufferDrops.inc();
      this.close(conn, 'SLOW_CONSUMER', 'send buffer full');
      return false;
    }
    // Identical bytes for every socket: framed once, no per-socket serialization or framing.
    const raw = rawSocket(ws);
    if (!raw || !raw.writable) {
      ws.send(out.text);
      return true;
    }
    // Frames for one socket within one turn of the event loop leave in one writev: a burst of
    // events costs one syscall per socket, not one per frame.
    if (!conn.corked) {
      conn.corked = true;
      raw.cork();
      this.corked.push(conn);
      if (this.corked.length === 1) setImmediate(this.uncorkAll);
    }
    raw.write(out.wire());
    return true;
  }

  private readonly corked: Connection[] = [];
  private readonly uncorkAll = () => {
    for (const conn of this.corked.splice(0)) {
      conn.corked = false;
      rawSocket(conn.ws)?.uncork();
    }
  };

  private send(conn: Connection, frame: Frame): void {
    if (this.write(conn, new Outbound(encodeFrame(frame), frame.type)))
      this.d.metrics.sent.labels(frame.type).inc();
  }

  private sendError(
    conn: Connection,
    id: string | undefined,
    code: string,
    message: string,
    extra: Record<string, unknown> = {},
  ): void {
    this.send(conn, { type: 'error', ...(id ? { id } : {}), code, message, ...extra });
  }

  close(conn: Connection, name: CloseName, reason: string): void {
    if (conn.closing) return;
    conn.closing = true;
    conn.closeCode = CloseCodes[name].code;
    conn.ws.close(conn.closeCode, reason.slice(0, 120));
    // A peer that never answers the close handshake (or never reads) is cut off.
    setTimeout(() => conn.ws.terminate(), 5000).unref();
  }

  /** Frames of one socket are handled in order (a client's messages keep their order). */
  private enqueue(
    conn: Connection,
    task: () => Promise<void>,
    id?: string,
    /** Fields for the failure log line, computed only when a frame fails. */
    about: () => Record<string, unknown> = () => ({}),
  ): void {
    conn.queued++;
    conn.chain = conn.chain
      .then(task)
      .catch((err: unknown) => {
        this.d.logger.error({ err, connectionId: conn.id, ...about() }, 'frame handler failed');
        // Not authenticated yet and a dependency failed: tell the client to come back, not to sign in.
        if (!conn.principal) return this.close(conn, 'TRY_AGAIN_LATER', 'authentication unavailable');
        // With the frame's id, so the client's outbox re-sends it (same clientMsgId: stored once).
        this.sendError(conn, id, 'INTERNAL', `unexpected failure (connection ${conn.id})`, {
          retryAfterMs: 1000,
        });
      })
      .finally(() => {
        conn.queued--;
      });
  }

  private onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closing) return;
    const { opts, metrics } = this.d;
    const now = Date.now();
    const take = conn.bucket.take(now);
    if (!take.ok || conn.queued >= opts.frameBurst) {
      if (++conn.strikes >= MAX_STRIKES) return this.close(conn, 'RATE_LIMITED', 'frame flood');
      if (now - conn.lastRateError >= 1000) {
        conn.lastRateError = now;
        this.sendError(conn, undefined, 'RATE_LIMITED', `at most ${opts.framesPerSecond} frames per second`, {
          retryAfterMs: take.ok ? 1000 : take.retryAfterMs,
        });
      }
      return;
    }
    conn.strikes = 0;
    if (isBinary) {
      metrics.received.labels('invalid').inc();
      return this.invalidFrame(conn, undefined, 'MALFORMED_FRAME', 'binary frames are not accepted');
    }
    const parsed = parseClientFrame(rawText(data));
    if (!parsed.ok) {
      metrics.received.labels('invalid').inc();
      if (parsed.fatal) {
        this.sendError(conn, parsed.id, parsed.code, parsed.message);
        return this.close(conn, 'PROTOCOL_ERROR', parsed.message);
      }
      return this.invalidFrame(conn, parsed.id, parsed.code, parsed.message, parsed.errors);
    }
    conn.invalid = 0;
    const frame = parsed.frame;
    metrics.received.labels(frame.type).inc();
    if (frame.type === 'ping') return this.send(conn, { type: 'pong', ...idOf(frame), ts: now });
    if (frame.type !== 'auth' && (!conn.principal || conn.authenticating))
      return this.sendError(conn, frame.id, 'NOT_AUTHENTICATED', 'send an auth frame first');
    this.enqueue(
      conn,
      () => metrics.timeFrame(frame.type, () => this.handle(conn, frame)),
      frame.id,
      () => frameLogFields(conn, frame),
    );
  }

  private invalidFrame(
    conn: Connection,
    id: string | undefined,
    code: string,
    message: string,
    errors?: unknown,
  ): void {
    if (++conn.invalid >= MAX_STRIKES) return this.close(conn, 'PROTOCOL_ERROR', 'too many invalid frames');
    this.sendError(conn, id, code, message, errors ? { errors } : {});
  }

  private async handle(conn: Connection, frame: ClientFrame): Promise<void> {
    if (conn.closing) return;
    if (!tracingEnabled()) return this.dispatch(conn, frame);
    // One server span per frame; a send continues the client's trace when it names one.
    const parent =
      frame.type === 'send' && frame.traceparent
        ? contextFrom({ traceparent: frame.traceparent })
        : ROOT_CONTEXT;
    return inSpan(
      `ws ${frame.type}`,
      {
        kind: SpanKind.SERVER,
        parent,
        attributes: {
          'parley.ws.frame_type': frame.type,
          'parley.ws.socket_id': conn.id,
          ...(conn.userId ? { 'enduser.id': conn.userId } : {}),
          ...('conversationId' in frame ? { 'parley.conversation.id': frame.conversationId } : {}),
        },
      },
      () => this.dispatch(conn, frame),
    );
  }

  private async dispatch(conn: Connection, frame: ClientFrame): Promise<void> {
    try {
      switch (frame.type) {
        case 'auth':
          return await this.authenticate(conn, frame.token, frame.id);
        case 'send':
          return await this.onSend(conn, frame);
        case 'typing':
          return await this.onTyping(conn, frame);
        case 'read':
        case 'delivered': {
          const r = await this.d.chat.receipt(conn.principal!, frame.conversationId, frame.seq, frame.type);
          return this.send(conn, {
            type: 'ack',
            ...idOf(frame),
            for: frame.type,
            conversationId: frame.conversationId,
            ...r,
          });
        }
        case 'presence':
          conn.status = frame.status;
          await this.announce(conn.userId, await this.presence.set(conn.userId, conn.id, frame.status));
          return this.send(conn, { type: 'ack', ...idOf(frame), for: 'presence', status: frame.status });
        case 'resume':
          return await this.resume(conn, frame);
        case 'ping':
          return;
      }
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      this.d.metrics.frameErrors.labels(frame.type, 'rejected').inc();
      trace.getActiveSpan()?.setAttribute('parley.error.code', err.code);
      const retry = err.headers['retry-after'];
      this.sendError(conn, frame.id, err.code, err.detail ?? err.title, {
        ...('conversationId' in frame ? { conversationId: frame.conversationId } : {}),
        ...(retry ? { retryAfterMs: Number(retry) * 1000 } : {}),
      });
    }
  }

  private async authenticate(conn: Connection, token: string, id: string | undefined): Promise<void> {
    const { metrics, opts } = this.d;
    const refresh = conn.principal !== undefined;
    let p: Principal;
    conn.authenticating = !refresh;
    try {
      p = await this.d.authenticate(token);
    } catch (err) {
      conn.authenticating = false;
      if (!(err instanceof ProblemError)) throw err;
      const detail = err.detail ?? '';
      if (refresh) return this.sendError(conn, id, 'UNAUTHENTICATED', detail || 'invalid access token');
      if (/expired/.test(detail)) {
        metrics.authFailures.labels('expired').inc();
        return this.close(conn, 'TOKEN_EXPIRED', 'access token expired');
      }
      if (/revoked|blocked/.test(detail)) {
        metrics.authFailures.labels('revoked').inc();
        return this.close(conn, 'SESSION_REVOKED', 'session revoked');
      }
      metrics.authFailures.labels(err.code === 'UNAVAILABLE' ? 'unavailable' : 'invalid').inc();
      if (err.code === 'UNAVAILABLE')
        return this.close(conn, 'TRY_AGAIN_LATER', 'authentication unavailable');
      return this.close(conn, 'UNAUTHENTICATED', 'invalid access token');
    }
    if (conn.closing) return;
    if (refresh) {
      if (p.userId !== conn.userId || p.sessionId !== conn.principal!.sessionId)
        return this.sendError(conn, id, 'TOKEN_MISMATCH', 'the token belongs to another user or session');
      conn.principal = p;
      this.setExpiry(conn, p.expiresAt);
      return this.send(conn, {
        type: 'ack',
        ...(id ? { id } : {}),
        for: 'auth',
        tokenExpiresAt: p.expiresAt,
      });
    }
    const live = await this.presence.set(p.userId, conn.id, 'online');
    if (conn.closing) {
      await this.presence.remove(p.userId, [conn.id]);
      return;
    }
    if (live.live > opts.maxConnectionsPerUser) {
      await this.presence.remove(p.userId, [conn.id]);
      metrics.authFailures.labels('too_many').inc();
      conn.authenticating = false;
      return this.close(
        conn,
        'TOO_MANY_CONNECTIONS',
        `at most ${opts.maxConnectionsPerUser} sockets per user`,
      );
    }
    const memberships = await this.d.store.members.find({ userId: p.userId }, { limit: 10_000 });
    conn.principal = p;
    conn.userId = p.userId;
    this.setExpiry(conn, p.expiresAt);
    this.pendingAuth--;
    for (const m of memberships) conn.conversations.add(m.conversationId);
    await this.hub.add(conn);
    conn.authenticating = false;
    // Closed while subscribing: onClose already ran and could not undo what came after it.
    if (conn.closing) return this.hub.remove(conn);
    this.send(conn, {
      type: 'ready',
      ...(id ? { id } : {}),
      connectionId: conn.id,
      userId: p.userId,
      sessionId: p.sessionId,
      heartbeatMs: opts.heartbeatMs,
      tokenExpiresAt: p.expiresAt,
      limits: {
        maxFrameBytes: opts.maxFrameBytes,
        maxBufferedBytes: opts.maxBufferedBytes,
        framesPerSecond: opts.framesPerSecond,
      },
    });
    await this.announce(p.userId, live);
  }

  private setExpiry(conn: Connection, expiresAt: number): void {
    conn.tokenExp = expiresAt;
    conn.expiringAt = expiresAt - Math.min(60_000, Math.max(0, expiresAt - Date.now()) / 2);
    conn.expiringSent = false;
  }

  private async onSend(conn: Connection, f: Extract<ClientFrame, { type: 'send' }>): Promise<void> {
    const res = await this.d.chat.send(
      conn.principal!,
      f.conversationId,
      {
        clientMsgId: f.clientMsgId,
        body: f.body,
        ciphertext: f.ciphertext,
        replyTo: f.replyTo,
        ttlSeconds: f.ttlSeconds,
      },
      false,
      // A first send skips the lookup (its id is new); a retry is answered from the store (#18).
      !f.resend,
    );
    const traceId = traceIdOf(context.active());
    this.send(conn, {
      type: 'ack',
      ...idOf(f),
      for: 'send',
      messageId: res.status === 'accepted' ? res.id : res.message.id,
      conversationId: f.conversationId,
      clientMsgId: f.clientMsgId,
      ...(res.status === 'persisted' ? { seq: res.message.seq } : {}),
      ...(traceId ? { traceId } : {}),
    });
  }

  private async onTyping(conn: Connection, f: Extract<ClientFrame, { type: 'typing' }>): Promise<void> {
    if (!conn.conversations.has(f.conversationId))
      return this.sendError(conn, f.id, 'CONVERSATION_NOT_FOUND', 'no such conversation', {
        conversationId: f.conversationId,
      });
    const now = Date.now();
    const at = (conn.typingAt ??= new Map());
    // Throttled per user and conversation on this socket; "stopped" always goes through.
    if (f.state === 'started' && now - (at.get(f.conversationId) ?? 0) < this.d.opts.typingThrottleMs) {
      this.d.metrics.typing.labels(f.state, 'throttled').inc();
      return;
    }
    at.set(f.conversationId, f.state === 'started' ? now : 0);
    this.d.metrics.typing.labels(f.state, 'published').inc();
    await this.hub.publish(f.conversationId, {
      type: 'typing',
      conversationId: f.conversationId,
      userId: conn.userId,
      state: f.state,
    });
  }

  /**
   * Replays each named conversation's messages after the client's cursor, in seq order, while live
   * frames for it are held back; then releases the held frames minus what the replay covered.
   */
  private async resume(conn: Connection, f: Extract<ClientFrame, { type: 'resume' }>): Promise<void> {
    const { opts, store, metrics } = this.d;
    const parsed = parseCursors(f.cursors, opts.resumeMaxConversations);
    if (!parsed.ok) return this.sendError(conn, f.id, 'INVALID_CURSOR', parsed.message);
    const conversations: Record<string, number> = {};
    const truncated: Record<string, number> = {};
    for (const [conv, cursor] of parsed.cursors) {
      if (!conn.conversations.has(conv)) {
        this.sendError(conn, f.id, 'CONVERSATION_NOT_FOUND', 'no such conversation', {
          conversationId: conv,
        });
        continue;
      }
      const held: { out: Outbound; meta: DeliveryMeta }[] = [];
      (conn.resuming ??= new Map()).set(conv, held);
      let last = cursor;
      let sent = 0;
      try {
        for (;;) {
          const page = await store.messages.find(
            { conversationId: conv, seq: q.gt(last), ...store.visible() },
            { sort: [['seq', 1]], limit: Math.min(REPLAY_PAGE, opts.resumeMaxMessages - sent) },
          );
          const alreadyLive = conn.liveBeforeResume?.get(conv);
          for (const m of page) {
            if (alreadyLive?.has(m.seq)) {
              last = m.seq;
              continue;
            }
            const out = new Outbound(
              encodeFrame({
                type: 'message.created',
                eventId: `replay:${m._id}`,
                conversationId: conv,
                occurredAt: m.createdAt,
                replay: true,
                data: messageView(m),
              }),
              'message.created',
            );
            if (!this.write(conn, out)) return;
            last = m.seq;
            sent++;
          }
          if (page.length === 0 || sent >= opts.resumeMaxMessages) break;
          await this.drained(conn);
          if (conn.closing) return;
        }
        if (sent >= opts.resumeMaxMessages) truncated[conv] = last + 1;
      } finally {
        metrics.resumedMessages.inc(sent);
        metrics.sent.labels('message.created').inc(sent);
        conn.resuming.delete(conv);
        conn.liveBeforeResume?.delete(conv);
        if (!conn.closing) {
          (conn.floor ??= new Map()).set(conv, last);
          for (const h of held) conn.deliver(h.out, h.meta);
        }
      }
      conversations[conv] = last;
    }
    this.send(conn, {
      type: 'resumed',
      ...idOf(f),
      conversations,
      ...(Object.keys(truncated).length ? { truncated } : {}),
    });
  }

  /** Resolves once the socket's send buffer is under half the limit (or the socket closed). */
  private async drained(conn: Connection): Promise<void> {
    const limit = this.d.opts.maxBufferedBytes / 2;
    const deadline = Date.now() + 30_000;
    while (!conn.closing && conn.ws.bufferedAmount > limit) {
      if (Date.now() > deadline) return this.close(conn, 'SLOW_CONSUMER', 'replay not read');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Pushes a presence change to the user's accepted direct chats and small groups. */
  private async announce(
    userId: string,
    change: { before: PresenceStatus; after: PresenceStatus; lastSeen?: string },
  ): Promise<void> {
    if (change.before === change.after) return;
    // Only conversations the user accepted, and none holding someone the user blocked (#15).
    const convs = await this.d.chat.presenceAudience(userId);
    const frame = {
      type: 'presence',
      eventId: randomUUID(),
      userId,
      status: change.after,
      ...(change.lastSeen ? { lastSeen: change.lastSeen } : {}),
    };
    for (const c of convs) {
      if (!(await this.sharesPresence(c))) continue;
      await this.hub.publish(c, { ...frame, conversationId: c });
    }
  }

  /**
   * Pushes a user's current presence into one conversation, where it was not shared before (the
   * user just accepted it), so its members need not wait for the next change.
   */
  async sharePresence(userId: string, conversationId: string): Promise<void> {
    if (!(await this.sharesPresence(conversationId))) return;
    const view = await this.presence.view(userId);
    await this.hub.publish(conversationId, {
      type: 'presence',
      eventId: randomUUID(),
      ...view,
      conversationId,
    });
  }

  /** Direct chats and groups up to the configured size share presence (cached five minutes). */
  private async sharesPresence(conversationId: string): Promise<boolean> {
    const hit = this.groupSizes.get(conversationId);
    if (hit && Date.now() - hit.at < 300_000) return hit.shares;
    const size = await this.d.store.members.count({ conversationId });
    const shares = size <= Math.max(2, this.d.opts.presenceMaxMembers);
    if (this.groupSizes.size > 50_000) this.groupSizes.clear();
    this.groupSizes.set(conversationId, { shares, at: Date.now() });
    return shares;
  }

  private onRevocation(message: string): void {
    let r: { sessionId?: unknown; userId?: unknown };
    try {
      r = JSON.parse(message) as typeof r;
    } catch {
      return;
    }
    if (typeof r.userId !== 'string') return;
    for (const s of this.hub.socketsOf(r.userId)) {
      const conn = s as Connection;
      if (conn.principal?.sessionId === r.sessionId) this.close(conn, 'SESSION_REVOKED', 'session revoked');
    }
  }

  private heartbeat(): void {
    for (const conn of this.connections) {
      if (conn.closing) continue;
      if (!conn.alive) {
        conn.closeCode = 1006;
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }

  private checkDeadlines(): void {
    const now = Date.now();
    const { authTimeoutMs } = this.d.opts;
    for (const conn of this.connections) {
      if (conn.closing) continue;
      if (!conn.principal) {
        if (!conn.authenticating && now - conn.openedAt > authTimeoutMs) {
          this.d.metrics.authFailures.labels('timeout').inc();
          this.close(conn, 'UNAUTHENTICATED', 'no auth frame in time');
        }
        continue;
      }
      if (now >= conn.tokenExp) {
        this.close(conn, 'TOKEN_EXPIRED', 'access token expired; refresh and reconnect');
      } else if (!conn.expiringSent && now >= conn.expiringAt) {
        conn.expiringSent = true;
        this.send(conn, { type: 'token.expiring', expiresAt: conn.tokenExp });
      }
    }
  }

  private async refreshPresence(): Promise<void> {
    for (const [userId, sockets] of this.hub.users) {
      const live = [...sockets].filter((s) => !(s as Connection).closing) as Connection[];
      if (live.length)
        await this.presence.refresh(
          userId,
          live.map((c) => ({ id: c.id, status: c.status })),
        );
    }
  }

  private onClose(conn: Connection, code: number): void {
    const { metrics } = this.d;
    this.connections.delete(conn);
    metrics.connections.dec();
    metrics.closed.labels(String(conn.closeCode ?? code)).inc();
    conn.closing = true;
    if (!conn.principal) {
      this.pendingAuth--;
      return;
    }
    this.hub.remove(conn);
    this.presence
      .remove(conn.userId, [conn.id])
      .then((change) => this.announce(conn.userId, change))
      .catch((err: unknown) => this.d.logger.warn({ err }, 'presence update failed'));
  }

  /**
   * Graceful drain: refuse new sockets, tell each client to reconnect after a jittered delay (so
   * they do not all land on the remaining pods at once), close them with 1012, then cut off
   * whatever is left at the deadline.
   */
  async drain(): Promise<void> {
    this.draining = true;
    for (const t of this.timers) clearInterval(t);
    for (const conn of this.connections) {
      if (conn.closing) continue;
      if (conn.principal)
        this.send(conn, {
          type: 'reconnect',
          afterMs: Math.floor(Math.random() * this.d.opts.drainMs),
          reason: 'server restart',
        });
      this.close(conn, 'SERVICE_RESTART', 'draining');
    }
    const deadline = Date.now() + 2000;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    for (const conn of this.connections) conn.ws.terminate();
    await this.unsubscribeRevocations?.();
    this.wss.close();
  }
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuse(socket: Duplex, status: number, text: string, reason?: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason ?? text}\n`,
  );
}

function bearerFromProtocols(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  for (const p of header.split(','))
    if (p.trim().startsWith(BEARER_PROTOCOL_PREFIX)) return p.trim().slice(BEARER_PROTOCOL_PREFIX.length);
  return undefined;
}

/** The socket under a `ws` connection (not public API: the fan-out writes pre-framed bytes to it). */
function rawSocket(ws: WebSocket): Duplex | undefined {
  return (ws as unknown as { _socket?: Duplex })._socket;
}

/** What a log line about a frame names: its type, and for a send its conversation and message. */
function frameLogFields(conn: Connection, frame: ClientFrame): Record<string, unknown> {
  if (!('conversationId' in frame)) return { frameType: frame.type };
  return {
    frameType: frame.type,
    conversationId: frame.conversationId,
    ...(frame.type === 'send'
      ? { messageId: messageIdFor(frame.conversationId, conn.userId, frame.clientMsgId) }
      : {}),
  };
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

function idOf(frame: { id?: string | undefined }): { id?: string } {
  return frame.id ? { id: frame.id } : {};
}
