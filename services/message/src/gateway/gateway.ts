import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  context,
  contextFrom,
  inSpan,
  ProblemError,
  REVOCATIONS_CHANNEL,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  traceIdOf,
  tracingEnabled,
  willRecord,
  type Cache,
  type Logger,
  type Principal,
} from '@parley/common';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { messageIdFor } from '../domain/envelopes.ts';
import { Presence } from '../domain/presence.ts';
import { Hub } from '../fanout/hub.ts';
import { SocketAuth } from './auth.ts';
import { Connection, Corker, idOf, type ConnectionEnv } from './connection.ts';
import type { GatewayChat, GatewayContext, GatewayOptions } from './context.ts';
import type { GatewayMetrics } from './metrics.ts';
import { PresenceFeed } from './presence.ts';
import { BEARER_PROTOCOL_PREFIX, parseClientFrame, PROTOCOL, type ClientFrame } from './protocol.ts';
import { resume } from './resume.ts';
import { TokenBucket } from './tokenbucket.ts';
import { onTyping } from './typing.ts';

export type { GatewayOptions } from './context.ts';

export const WS_PATH = '/v1/ws';

export interface GatewayDeps {
  opts: GatewayOptions;
  cache: Cache;
  chat: GatewayChat;
  authenticate: (token: string) => Promise<Principal>;
  logger: Logger;
  metrics: GatewayMetrics;
}

/** Consecutive invalid frames, or frames ignored while rate limited, before the socket is closed. */
const MAX_STRIKES = 20;

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
  private readonly env: ConnectionEnv;
  private readonly ctx: GatewayContext;
  private readonly feed: PresenceFeed;
  private readonly auth: SocketAuth;

  constructor(private readonly d: GatewayDeps) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: d.opts.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    });
    this.hub = new Hub(d.cache, d.logger, (type, n, acceptedAt) => {
      if (n > 0) d.metrics.hot.sent.inc(type, n);
      if (acceptedAt !== undefined && n > 0)
        d.metrics.hot.deliveryLatency.observe('delivered', (Date.now() - acceptedAt) / 1000);
    });
    this.presence = new Presence(d.cache, d.opts.presenceTtlMs, Date.now, (s) =>
      d.metrics.presenceChanges.labels(s).inc(),
    );
    this.env = { maxBufferedBytes: d.opts.maxBufferedBytes, metrics: d.metrics, corker: new Corker() };
    this.ctx = { ...d, hub: this.hub, presence: this.presence };
    this.feed = new PresenceFeed(this.ctx);
    this.auth = new SocketAuth(this.ctx, this.feed, () => this.pendingAuth--);
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
    every(Math.min(1000, opts.authTimeoutMs), () => this.auth.checkDeadlines(this.connections));
    every(Math.floor(opts.presenceTtlMs / 3), () => this.presence.refresh(this.hub.users));
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
    const conn = new Connection(
      ws,
      new TokenBucket(opts.framesPerSecond, opts.frameBurst, Date.now()),
      this.env,
    );
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
        conn.close('INTERNAL', 'unexpected failure');
      }
    });
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('error', (err) => this.d.logger.debug({ err, connectionId: conn.id }, 'socket error'));
    ws.on('close', (code) => this.onClose(conn, code));
    if (token) this.enqueue(conn, () => this.auth.authenticate(conn, token, undefined));
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
      .catch((err: unknown) => this.failed(conn, id, err, about()))
      .finally(() => {
        conn.queued--;
      });
  }

  /** A frame whose handling failed unexpectedly: logged, and answered so the client retries. */
  private failed(
    conn: Connection,
    id: string | undefined,
    err: unknown,
    about: Record<string, unknown>,
  ): void {
    this.d.logger.error({ err, connectionId: conn.id, ...about }, 'frame handler failed');
    // Not authenticated yet and a dependency failed: tell the client to come back, not to sign in.
    if (!conn.principal) return conn.close('TRY_AGAIN_LATER', 'authentication unavailable');
    // With the frame's id, so the client's outbox re-sends it (same clientMsgId: stored once).
    conn.sendError(id, 'INTERNAL', `unexpected failure (connection ${conn.id})`, { retryAfterMs: 1000 });
  }

  /** A frame the handler refused: the problem as an error frame with the frame's id. */
  private refused(conn: Connection, frame: ClientFrame, err: ProblemError): void {
    this.d.metrics.frameErrors.labels(frame.type, 'rejected').inc();
    trace.getActiveSpan()?.setAttribute('parley.error.code', err.code);
    const retry = err.headers['retry-after'];
    conn.sendError(frame.id, err.code, err.detail ?? err.title, {
      ...('conversationId' in frame ? { conversationId: frame.conversationId } : {}),
      ...(retry ? { retryAfterMs: Number(retry) * 1000 } : {}),
    });
  }

  private onFrame(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closing) return;
    const { opts, metrics } = this.d;
    const now = Date.now();
    const take = conn.bucket.take(now);
    if (!take.ok || conn.queued >= opts.frameBurst) {
      if (++conn.strikes >= MAX_STRIKES) return conn.close('RATE_LIMITED', 'frame flood');
      if (now - conn.lastRateError >= 1000) {
        conn.lastRateError = now;
        conn.sendError(undefined, 'RATE_LIMITED', `at most ${opts.framesPerSecond} frames per second`, {
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
        conn.sendError(parsed.id, parsed.code, parsed.message);
        return conn.close('PROTOCOL_ERROR', parsed.message);
      }
      return this.invalidFrame(conn, parsed.id, parsed.code, parsed.message, parsed.errors);
    }
    conn.invalid = 0;
    const frame = parsed.frame;
    metrics.hot.received.inc(frame.type);
    if (frame.type === 'ping') return conn.send({ type: 'pong', ...idOf(frame), ts: now });
    if (frame.type !== 'auth' && (!conn.principal || conn.authenticating))
      return conn.sendError(frame.id, 'NOT_AUTHENTICATED', 'send an auth frame first');
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
    if (++conn.invalid >= MAX_STRIKES) return conn.close('PROTOCOL_ERROR', 'too many invalid frames');
    conn.sendError(id, code, message, errors ? { errors } : {});
  }

  private async handle(conn: Connection, frame: ClientFrame): Promise<void> {
    if (conn.closing) return;
    if (!tracingEnabled()) return this.dispatch(conn, frame);
    // One server span per frame; a send continues the client's trace when it names one.
    const parent =
      frame.type === 'send' && frame.traceparent
        ? contextFrom({ traceparent: frame.traceparent })
        : ROOT_CONTEXT;
    // At sampling 0 a frame naming no trace makes none: skip building the span's attributes.
    if (parent === ROOT_CONTEXT && !willRecord(parent)) return this.dispatch(conn, frame);
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
          return await this.auth.authenticate(conn, frame.token, frame.id);
        case 'send':
          return await this.onSend(conn, frame);
        case 'typing':
          return await onTyping(this.ctx, conn, frame);
        case 'read':
        case 'delivered': {
          const r = await this.d.chat.actions.receipt(
            conn.principal!,
            frame.conversationId,
            frame.seq,
            frame.type,
          );
          return conn.send({
            type: 'ack',
            ...idOf(frame),
            for: frame.type,
            conversationId: frame.conversationId,
            ...r,
          });
        }
        case 'presence':
          return await this.feed.onFrame(conn, frame);
        case 'resume':
          return await resume(this.ctx, conn, frame);
        case 'ping':
          return;
      }
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      this.refused(conn, frame, err);
    }
  }

  private async onSend(conn: Connection, f: Extract<ClientFrame, { type: 'send' }>): Promise<void> {
    // The frame is the send's input as it is (zod kept only the fields it declares). A first send
    // skips the lookup (its id is new); a retry is answered from the store (#18).
    let queued!: () => void;
    const inLine = new Promise<'queued'>((resolve) => (queued = () => resolve('queued')));
    const sent = this.d.chat.sender.send(conn.principal!, f.conversationId, f, {
      waitPersisted: false,
      skipStoredCheck: !f.resend,
      onQueued: queued,
    });
    // In embedded mode the socket's next frame goes on once this send holds its place (the
    // persister keeps the order sends reach it), instead of waiting for its commit: a client's
    // sends pipeline. Its ack, or its error, follows on its own.
    if ((await Promise.race([inLine, sent])) === 'queued') {
      sent.then(
        (res) => this.ackSend(conn, f, res),
        (err: unknown) => this.sendFailed(conn, f, err),
      );
      return;
    }
    this.ackSend(conn, f, await sent);
  }

  /** A send that failed after the socket's next frame went on: answered as dispatch would. */
  private sendFailed(conn: Connection, f: Extract<ClientFrame, { type: 'send' }>, err: unknown): void {
    if (err instanceof ProblemError) return this.refused(conn, f, err);
    this.d.metrics.frameErrors.labels('send', 'internal').inc();
    this.failed(conn, f.id, err, { conversationId: f.conversationId });
  }

  private ackSend(
    conn: Connection,
    f: Extract<ClientFrame, { type: 'send' }>,
    res: Awaited<ReturnType<GatewayDeps['chat']['sender']['send']>>,
  ): void {
    const traceId = traceIdOf(context.active());
    conn.send({
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

  /**
   * Pushes a user's current presence into one conversation, where it was not shared before (the
   * user just accepted it), so its members need not wait for the next change.
   */
  sharePresence(userId: string, conversationId: string): Promise<void> {
    return this.feed.share(userId, conversationId);
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
      if (conn.principal?.sessionId === r.sessionId) conn.close('SESSION_REVOKED', 'session revoked');
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
      .then((change) => this.feed.announce(conn.userId, change))
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
        conn.send({
          type: 'reconnect',
          afterMs: Math.floor(Math.random() * this.d.opts.drainMs),
          reason: 'server restart',
        });
      conn.close('SERVICE_RESTART', 'draining');
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
