import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Principal } from '@parley/common';
import { WebSocket } from 'ws';
import { Outbound, type DeliveryMeta, type HubSocket } from '../fanout/hub.ts';
import type { GatewayMetrics } from './metrics.ts';
import { CloseCodes, encodeFrame, type CloseName, type ServerFrameType } from './protocol.ts';
import type { TokenBucket } from './tokenbucket.ts';

export type Frame = { type: ServerFrameType } & Record<string, unknown>;

/**
 * Frames for one socket within one turn of the event loop leave in one writev: a burst of events
 * costs one syscall per socket, not one per frame. One per gateway.
 */
export class Corker {
  private readonly corked: Connection[] = [];

  /** Corks the socket until the end of this turn (once per turn). */
  hold(conn: Connection, raw: Duplex): void {
    if (conn.corked) return;
    conn.corked = true;
    raw.cork();
    this.corked.push(conn);
    if (this.corked.length === 1) setImmediate(this.uncorkAll);
  }

  private readonly uncorkAll = () => {
    for (const conn of this.corked.splice(0)) {
      conn.corked = false;
      rawSocket(conn.ws)?.uncork();
    }
  };
}

/** What every connection of a gateway shares: its limits, metrics and write batching. */
export interface ConnectionEnv {
  maxBufferedBytes: number;
  metrics: GatewayMetrics;
  corker: Corker;
}

/**
 * One client socket and its write path. Lean on purpose: idle sockets must stay within a few KB
 * each. It knows nothing of the gateway: its environment is the shared limits and write batching.
 */
export class Connection implements HubSocket {
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
    private readonly env: ConnectionEnv,
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
    if (!this.write(out)) return false;
    if (conv && meta.seq !== undefined && !this.floor?.has(conv) && Date.now() - this.openedAt < 60_000) {
      const seen = (this.liveBeforeResume ??= new Map()).get(conv) ?? new Set<number>();
      if (seen.size < 1000) seen.add(meta.seq);
      this.liveBeforeResume.set(conv, seen);
    }
    return true;
  }

  /** Writes a frame built once for many sockets; closes a socket whose buffer is full. */
  write(out: Outbound): boolean {
    const ws = this.ws;
    if (this.closing || ws.readyState !== WebSocket.OPEN) return false;
    if (ws.bufferedAmount + out.text.length > this.env.maxBufferedBytes) {
      this.env.metrics.bufferDrops.inc();
      this.close('SLOW_CONSUMER', 'send buffer full');
      return false;
    }
    // Identical bytes for every socket: framed once, no per-socket serialization or framing.
    const raw = rawSocket(ws);
    if (!raw || !raw.writable) {
      ws.send(out.text);
      return true;
    }
    this.env.corker.hold(this, raw);
    raw.write(out.wire());
    return true;
  }

  /** A frame for this socket alone. */
  send(frame: Frame): void {
    if (this.write(new Outbound(encodeFrame(frame), frame.type))) this.env.metrics.hot.sent.inc(frame.type);
  }

  sendError(
    id: string | undefined,
    code: string,
    message: string,
    extra: Record<string, unknown> = {},
  ): void {
    this.send({ type: 'error', ...(id ? { id } : {}), code, message, ...extra });
  }

  close(name: CloseName, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closeCode = CloseCodes[name].code;
    this.ws.close(this.closeCode, reason.slice(0, 120));
    // A peer that never answers the close handshake (or never reads) is cut off.
    setTimeout(() => this.ws.terminate(), 5000).unref();
  }

  /** Resolves once the send buffer is under half the limit (or the socket closed). */
  async drained(): Promise<void> {
    const limit = this.env.maxBufferedBytes / 2;
    const deadline = Date.now() + 30_000;
    while (!this.closing && this.ws.bufferedAmount > limit) {
      if (Date.now() > deadline) return this.close('SLOW_CONSUMER', 'replay not read');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** The socket under a `ws` connection (not public API: the fan-out writes pre-framed bytes to it). */
function rawSocket(ws: WebSocket): Duplex | undefined {
  return (ws as unknown as { _socket?: Duplex })._socket;
}

export function idOf(frame: { id?: string | undefined }): { id?: string } {
  return frame.id ? { id: frame.id } : {};
}
