import type { ParleyClient } from './client.ts';
import type { ChatEventFrame, ErrorFrame, PresenceFrame, ReadyFrame, TypingFrame } from './frames.ts';
import type { BackoffPolicy } from './reconnect.ts';
import type { Message } from './types.ts';

/**
 * The part of the WebSocket API the session uses: the browser's WebSocket and `ws`'s both fit.
 * Handlers take `never` so either implementation's event types are accepted.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: never) => void) | null;
  onmessage: ((ev: never) => void) | null;
  onclose: ((ev: never) => void) | null;
  onerror: ((ev: never) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * `idle` before connect(); `connecting` until `ready`; `open`; `waiting` between a close and the
 * next attempt; `closed` after close() or a close code that forbids reconnecting.
 */
export type SocketState = 'idle' | 'connecting' | 'open' | 'waiting' | 'closed';

export interface StateDetail {
  code?: number;
  reason?: string;
  /** In `waiting`: when the next attempt starts. */
  delayMs?: number;
}

export interface SocketEvents {
  state: [state: SocketState, detail: StateDetail];
  ready: [ready: ReadyFrame];
  /** A new message (`message.created`), de-duplicated; `replay` when it came from a resume. */
  message: [message: Message, meta: { replay: boolean }];
  /** Every chat event (message.*, reaction.changed, receipt.updated, …), de-duplicated. */
  event: [event: ChatEventFrame];
  typing: [typing: TypingFrame];
  presence: [presence: PresenceFrame];
  /** A resume finished: the last seq replayed per conversation. */
  resumed: [conversations: Record<string, number>];
  /** More changes happened while away than a resume replays: reload these conversations over REST. */
  refetch: [conversationIds: string[]];
  /** An error frame from the server, or a local failure (token refresh, bad frame). */
  error: [error: ErrorFrame | Error];
}

export interface ParleySocketOptions {
  /** Holds the tokens and refreshes them. */
  client: ParleyClient;
  /** The WebSocket implementation: the global one by default; in Node 20 pass `ws`'s WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** Default: the client's base URL with ws(s): and /v1/ws. */
  url?: string;
  /** Send the token as a subprotocol at connect (default) or in a first `auth` frame. */
  auth?: 'subprotocol' | 'frame';
  backoff?: Partial<BackoffPolicy>;
  /** How many message and event ids to remember for de-duplication (default 10,000). */
  dedupCapacity?: number;
  /** Give up on a connection that has not become ready in this time (default 10 s). */
  connectTimeoutMs?: number;
  random?: () => number;
}
