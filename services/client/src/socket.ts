import { ParleyApiError } from './client.ts';
import { ResumeCursors } from './cursors.ts';
import { RecentIds } from './dedup.ts';
import { Emitter } from './emitter.ts';
import {
  BEARER_PROTOCOL_PREFIX,
  PROTOCOL,
  eventTypes,
  type ChatEventFrame,
  type ClientFrame,
  type ErrorFrame,
  type ReadyFrame,
  type ReceiptAck,
  type SendAck,
  type SendFields,
  type ServerFrame,
} from './frames.ts';
import { Outbox } from './outbox.ts';
import { defaultBackoff, planReconnect, type BackoffPolicy } from './reconnect.ts';

import type {
  ParleySocketOptions,
  SocketEvents,
  SocketState,
  StateDetail,
  WebSocketConstructor,
  WebSocketLike,
} from './sockettypes.ts';

export type SendInput = Omit<SendFields, 'clientMsgId'> & { clientMsgId?: string };

/** Send errors a re-send can cure (SEND_FAILED: servers before #21); others reject for good. */
const transientSendErrors = new Set(['SEND_FAILED', 'UNAVAILABLE', 'RATE_LIMITED', 'INTERNAL']);
const typingThrottleMs = 3_000;
const resumeChunk = 100;

/** A fresh clientMsgId; crypto.randomUUID only exists in secure contexts, getRandomValues always. */
export function newClientMsgId(): string {
  if (typeof globalThis.crypto.randomUUID === 'function') return globalThis.crypto.randomUUID();
  return Array.from(globalThis.crypto.getRandomValues(new Uint8Array(16)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('');
}

/**
 * A real-time session over `GET /v1/ws`: reconnects with backoff as each close code says, resumes
 * every conversation from the last contiguous seq it holds, drops duplicate events, re-sends
 * unacknowledged messages with the same clientMsgId, and keeps the access token fresh.
 */
export class ParleySocket extends Emitter<SocketEvents> {
  private stateNow: SocketState = 'idle';
  private readyFrame: ReadyFrame | null = null;
  private ws: WebSocketLike | null = null;
  private usedToken: string | undefined;
  private attempt = 0;
  private reconnectAfterMs: number | undefined;
  private stopped = true;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private watchdog: ReturnType<typeof setInterval> | ReturnType<typeof setTimeout> | undefined;
  private lastFrameAt = 0;
  private reqSeq = 0;
  private readonly WS: WebSocketConstructor;
  private readonly url: string;
  private readonly policy: BackoffPolicy;
  private readonly random: () => number;
  private readonly cursors = new ResumeCursors();
  private readonly seen: RecentIds;
  private readonly outbox = new Outbox();
  private readonly pending = new Map<string, { resolve: (f: never) => void; reject: (e: Error) => void }>();
  private readonly resuming = new Set<string>();
  private readonly typingSent = new Map<string, { state: string; at: number }>();
  private waiters: { resolve: (r: ReadyFrame) => void; reject: (e: Error) => void }[] = [];
  /** The send pacer's tokens (see pump()), when they were counted, and its next turn. */
  private tokens = 0;
  private tokensAt = 0;
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  /** Epoch ms before which no send is written (the server said RATE_LIMITED). */
  private pausedUntil = 0;

  constructor(private readonly opts: ParleySocketOptions) {
    super();
    const WS = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WS)
      throw new Error(
        "no global WebSocket: pass options.WebSocket (in Node: import { WebSocket } from 'ws')",
      );
    this.WS = WS;
    this.url = opts.url ?? opts.client.baseUrl.replace(/^http/, 'ws') + '/v1/ws';
    this.policy = { ...defaultBackoff, ...opts.backoff };
    this.random = opts.random ?? Math.random;
    this.seen = new RecentIds(opts.dedupCapacity ?? 10_000);
  }

  get state(): SocketState {
    return this.stateNow;
  }

  /** The server's `ready` frame of the current connection (limits, heartbeat, user). */
  get ready(): ReadyFrame | null {
    return this.stateNow === 'open' ? this.readyFrame : null;
  }

  /** Sends queued and not yet acknowledged. */
  get outboxSize(): number {
    return this.outbox.size;
  }

  /** Connects (and keeps reconnecting); resolves at the next `ready`, rejects if it gives up. */
  connect(): Promise<ReadyFrame> {
    if (this.stateNow === 'open' && this.readyFrame) return Promise.resolve(this.readyFrame);
    const p = new Promise<ReadyFrame>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.stopped) {
      this.stopped = false;
      void this.open();
    }
    return p;
  }

  /** Closes for good (1000): pending sends and requests are rejected. */
  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.detach();
    ws?.close(1000, 'client closed');
    this.finish('closed', { code: 1000 }, new Error('socket closed'));
  }

  /**
   * Sends a message; resolves with the server's ack once it is stored. Queued while disconnected
   * and re-sent (same clientMsgId, stored once) until acknowledged; written no faster than the
   * server's announced frame rate allows, so a burst of sends waits here instead of being dropped.
   */
  send(conversationId: string, input: SendInput): Promise<SendAck> {
    const clientMsgId = input.clientMsgId ?? newClientMsgId();
    const p = this.outbox.add(conversationId, { ...input, clientMsgId } as SendFields);
    this.pump();
    return p;
  }

  /** Typing indicator; `started` is sent at most every 3 s per conversation. Dropped when offline. */
  typing(conversationId: string, state: 'started' | 'stopped' = 'started'): void {
    if (this.stateNow !== 'open') return;
    const last = this.typingSent.get(conversationId);
    const now = Date.now();
    if (last && last.state === state && (state === 'stopped' || now - last.at < typingThrottleMs)) return;
    this.typingSent.set(conversationId, { state, at: now });
    this.write({ type: 'typing', conversationId, state });
  }

  /** Moves your read cursor (implies delivered). */
  read(conversationId: string, seq: number): Promise<ReceiptAck> {
    return this.request({ type: 'read', conversationId, seq });
  }

  /** Moves your delivered cursor. */
  delivered(conversationId: string, seq: number): Promise<ReceiptAck> {
    return this.request({ type: 'delivered', conversationId, seq });
  }

  /** Your presence on this device (the server derives offline when every socket is gone). */
  setPresence(status: 'online' | 'away'): void {
    if (this.stateNow === 'open') this.write({ type: 'presence', status });
  }

  /** Round trip to the server. */
  ping(): Promise<{ type: 'pong'; ts: number }> {
    return this.request({ type: 'ping' });
  }

  /** Declares every message of a conversation up to `seq` held (e.g. loaded over REST): resume starts there. */
  setCursor(conversationId: string, seq: number): void {
    this.cursors.seqs.set(conversationId, seq);
  }

  /** The highest seq up to which every message of the conversation has been received. */
  cursor(conversationId: string): number | undefined {
    return this.cursors.seqs.get(conversationId);
  }

  /** Stops tracking a conversation (left it, or not interested in its history any more). */
  forget(conversationId: string): void {
    this.cursors.forget(conversationId);
  }

  // --- connection ---------------------------------------------------------------------------

  private async open(): Promise<void> {
    this.setState('connecting', {});
    let token: string;
    try {
      token = await this.opts.client.accessToken();
    } catch (err) {
      if (this.stopped) return;
      // Signed out (or the refresh was refused): stop. The auth service unreachable: back off.
      const refused = err instanceof ParleyApiError && (err.status === 401 || err.status === 403);
      if (refused || !this.opts.client.tokens)
        return this.finish('closed', { code: 4001, reason: 'not signed in' }, err as Error);
      this.emit('error', err as Error);
      return this.onClose(null, 1013, 'token refresh failed');
    }
    if (this.stopped) return;
    this.usedToken = token;
    const frameAuth = this.opts.auth === 'frame';
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.url, frameAuth ? [PROTOCOL] : [PROTOCOL, BEARER_PROTOCOL_PREFIX + token]);
    } catch (err) {
      this.emit('error', err as Error);
      return this.onClose(null, 1006, 'connect failed');
    }
    this.ws = ws;
    ws.onopen = () => {
      if (frameAuth) this.write({ type: 'auth', token });
    };
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.ws === ws && typeof ev.data === 'string') this.onText(ev.data);
    };
    ws.onclose = (ev: { code: number; reason: string }) => {
      if (this.ws === ws) this.onClose(ws, ev.code, ev.reason);
    };
    ws.onerror = () => {}; // a close event follows
    this.watchdog = setTimeout(
      () => this.drop(ws, 'not ready in time'),
      this.opts.connectTimeoutMs ?? 10_000,
    );
  }

  /** Gives up on a socket that stopped answering, without waiting for its close handshake. */
  private drop(ws: WebSocketLike, reason: string): void {
    if (this.ws !== ws) return;
    this.onClose(ws, 1006, reason);
    try {
      ws.close();
    } catch {
      // already closing
    }
  }

  private detach(): void {
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    clearTimeout(this.watchdog as ReturnType<typeof setTimeout>);
    clearInterval(this.watchdog as ReturnType<typeof setInterval>);
    if (this.ws) this.ws.onopen = this.ws.onmessage = this.ws.onclose = this.ws.onerror = null;
    this.ws = null;
    this.readyFrame = null;
    this.resuming.clear();
    this.typingSent.clear();
    const lost = new Error('connection lost');
    for (const p of this.pending.values()) p.reject(lost);
    this.pending.clear();
  }

  private onClose(ws: WebSocketLike | null, code: number, reason: string): void {
    if (ws && ws !== this.ws) return;
    this.detach();
    if (this.stopped) return;
    const plan = planReconnect(code, this.attempt++, this.policy, this.random, this.reconnectAfterMs);
    this.reconnectAfterMs = undefined;
    if (!plan.reconnect) {
      this.stopped = true;
      return this.finish('closed', { code, reason }, new Error(`closed by server: ${code} ${plan.reason}`));
    }
    this.setState('waiting', { code, reason, delayMs: plan.delayMs });
    this.retryTimer = setTimeout(() => void this.retry(plan.refreshFirst), plan.delayMs);
  }

  private async retry(refreshFirst: boolean): Promise<void> {
    if (this.stopped) return;
    // 4002: the token we connected with expired; refresh unless someone already did.
    if (refreshFirst && this.opts.client.tokens?.accessToken === this.usedToken) {
      try {
        await this.opts.client.refresh();
      } catch (err) {
        this.emit('error', err as Error);
        if (!this.opts.client.tokens)
          return this.finish('closed', { code: 4002, reason: 'refresh refused' }, err as Error);
      }
    }
    if (!this.stopped) await this.open();
  }

  /** Enters a terminal or idle state and settles whoever waits on connect(). */
  private finish(state: SocketState, detail: StateDetail, err: Error): void {
    this.stopped = true;
    this.outbox.rejectAll(err);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
    this.setState(state, detail);
  }

  private setState(state: SocketState, detail: StateDetail): void {
    if (this.stateNow === state && state !== 'waiting') return;
    this.stateNow = state;
    this.emit('state', state, detail);
  }

  /**
   * Writes queued sends while the pacer has tokens: a token bucket at 80% of the server's
   * `limits.framesPerSecond` and `frameBurst` (the rest is headroom for pings, receipts and
   * typing), so the server's own bucket never drops a send. Runs again when the next token is due.
   */
  private pump(): void {
    clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    const limits = this.readyFrame?.limits;
    if (this.stateNow !== 'open' || !limits) return;
    const rate = Math.max(1, limits.framesPerSecond * 0.8);
    const capacity = Math.max(1, Math.floor((limits.frameBurst ?? limits.framesPerSecond) * 0.8));
    const now = Date.now();
    if (now < this.pausedUntil) {
      this.pumpTimer = setTimeout(() => this.pump(), this.pausedUntil - now);
      return;
    }
    this.tokens = Math.min(capacity, this.tokens + ((now - this.tokensAt) / 1000) * rate);
    this.tokensAt = now;
    while (this.tokens >= 1) {
      const frame = this.outbox.next();
      if (!frame) return;
      this.tokens--;
      this.write(frame);
    }
    if (this.outbox.queued > 0)
      this.pumpTimer = setTimeout(() => this.pump(), Math.ceil(((1 - this.tokens) / rate) * 1000));
  }

  private write(frame: ClientFrame): void {
    try {
      this.ws?.send(JSON.stringify(frame));
    } catch (err) {
      this.emit('error', err as Error);
    }
  }

  private request<T>(frame: ClientFrame): Promise<T> {
    if (this.stateNow !== 'open') return Promise.reject(new Error('not connected'));
    const id = `r${++this.reqSeq}`;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (f: never) => void, reject });
      this.write({ ...frame, id });
    });
  }

  // --- frames -------------------------------------------------------------------------------

  private onText(text: string): void {
    let f: ServerFrame;
    try {
      f = JSON.parse(text) as ServerFrame;
    } catch {
      this.emit('error', new Error('server sent a frame that is not JSON'));
      return;
    }
    this.lastFrameAt = Date.now();
    switch (f.type) {
      case 'ready':
        return this.onReady(f);
      case 'ack':
        if (f.for === 'send') this.outbox.ack(f);
        else if (f.for === 'auth') {
          if (this.readyFrame) this.readyFrame.tokenExpiresAt = f.tokenExpiresAt;
        } else this.settle(f.id, f);
        return;
      case 'pong':
        return this.settle(f.id, f);
      case 'error':
        return this.onError(f);
      case 'resumed':
        this.cursors.settle(f);
        for (const conv of [...Object.keys(f.conversations), ...Object.keys(f.positions ?? {})])
          this.resuming.delete(conv);
        this.emit('resumed', f.conversations);
        if (f.refetch?.length) this.emit('refetch', f.refetch);
        if (f.truncated && this.stateNow === 'open') this.resume(Object.keys(f.truncated));
        return;
      case 'token.expiring':
        return void this.reauth(f.expiresAt);
      case 'reconnect':
        this.reconnectAfterMs = f.afterMs;
        return;
      case 'typing':
        return this.emit('typing', f);
      case 'presence':
        if (f.eventId && !this.seen.add(`p:${f.eventId}`)) return;
        return this.emit('presence', f);
      default:
        if ((eventTypes as readonly string[]).includes(f.type)) this.onEvent(f);
    }
  }

  private onReady(f: ReadyFrame): void {
    const ws = this.ws!;
    clearTimeout(this.watchdog as ReturnType<typeof setTimeout>);
    this.readyFrame = f;
    this.attempt = 0;
    this.setState('open', {});
    // Heartbeat: ping every heartbeatMs; a socket silent for two periods is dead.
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastFrameAt > 2 * f.heartbeatMs) this.drop(ws, 'heartbeat timeout');
      else this.write({ type: 'ping' });
    }, f.heartbeatMs);
    this.resume();
    // Retries (marked resend: the server answers a stored one with its seq instead of
    // broadcasting it again) and sends made offline go out, paced from a full bucket.
    this.outbox.requeue();
    this.pausedUntil = 0;
    this.tokensAt = Date.now();
    this.tokens = Number.POSITIVE_INFINITY;
    this.pump();
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve(f);
    this.emit('ready', f);
  }

  private onError(f: ErrorFrame): void {
    if (f.id && this.pending.has(f.id)) {
      const p = this.pending.get(f.id)!;
      this.pending.delete(f.id);
      p.reject(Object.assign(new Error(`${f.code}: ${f.message}`), { frame: f }));
    } else if (f.id) {
      const clientMsgId = this.outbox.clientMsgIdOf(f.id);
      if (clientMsgId && transientSendErrors.has(f.code)) {
        const ws = this.ws;
        setTimeout(() => {
          if (this.ws !== ws) return;
          this.outbox.requeue(clientMsgId);
          this.pump();
        }, f.retryAfterMs ?? 1_000);
      } else if (clientMsgId)
        this.outbox.fail(clientMsgId, Object.assign(new Error(`${f.code}: ${f.message}`), { frame: f }));
    } else if (f.code === 'RATE_LIMITED') {
      // The server dropped frames it could not say which of: every send in flight goes again
      // (the server stores a re-send once), paced, once the server says it may.
      this.tokens = 0;
      this.tokensAt = Date.now();
      this.pausedUntil = this.tokensAt + (f.retryAfterMs ?? 1_000);
      this.outbox.requeue();
      this.pump();
    }
    this.emit('error', f);
  }

  private settle(id: string | undefined, frame: unknown): void {
    const p = id ? this.pending.get(id) : undefined;
    if (!p) return;
    this.pending.delete(id!);
    p.resolve(frame as never);
  }

  private onEvent(f: ChatEventFrame): void {
    const key = f.type === 'message.created' ? `m:${f.data.id}` : `e:${f.eventId}`;
    if (!this.seen.add(key)) return;
    // A change at or below the position held was applied already (e.g. live, then replayed).
    const at = f.pos === undefined ? true : this.cursors.observe(f.conversationId, f.pos);
    if (at === false) return;
    if (at === 'gap') this.resumeGap(f.conversationId);
    if (f.type === 'message.created') {
      if (this.cursors.seqs.observe(f.conversationId, f.data.seq) === 'gap') this.resumeGap(f.conversationId);
      this.emit('message', f.data, { replay: f.replay === true });
    }
    this.emit('event', f);
    // Removed (live, or told by a resume after being away): nothing more comes; stop resuming it.
    if (f.type === 'member.removed' && f.data.userId === this.readyFrame?.userId)
      this.forget(f.conversationId);
  }

  /** A message or change arrived beyond the next one: ask for what is missing (once per conversation at a time). */
  private resumeGap(conversationId: string): void {
    if (!this.resuming.has(conversationId) && this.stateNow === 'open') this.resume([conversationId]);
  }

  /** Resumes `conversations` (default: every tracked one) from both their cursors. */
  private resume(conversations?: string[]): void {
    for (const cursors of this.cursors.frames(conversations, resumeChunk)) {
      for (const conv of Object.keys(cursors)) this.resuming.add(conv);
      this.write({ type: 'resume', cursors });
    }
  }

  private async reauth(expiresAt: number): Promise<void> {
    const ws = this.ws;
    try {
      const held = this.opts.client.tokens;
      const token =
        held && Date.parse(held.accessTokenExpiresAt) > expiresAt
          ? held.accessToken
          : (await this.opts.client.refresh()).accessToken;
      if (this.ws === ws) {
        this.usedToken = token;
        this.write({ type: 'auth', token });
      }
    } catch (err) {
      // The server closes with 4002 when the token runs out; the reconnect refreshes again.
      this.emit('error', err as Error);
    }
  }
}
