import type { EventType } from './events.ts';
import type { Message } from './types.ts';

export { eventTypes, type EventType } from './events.ts';

/**
 * The frames of Parley's WebSocket protocol (`GET /v1/ws`, subprotocol `parley.v1`) as the client
 * sees them. services/message/asyncapi.yaml is the full description; a test keeps the close codes
 * here in step with the server's.
 */
export const PROTOCOL = 'parley.v1';
export const BEARER_PROTOCOL_PREFIX = 'parley.bearer.';

export type SendFields = {
  clientMsgId: string;
  replyTo?: string;
  ttlSeconds?: number;
  traceparent?: string;
  /** Set by the session on a retry after a reconnect: a stored message is acked with its seq. */
  resend?: boolean;
} & ({ body: string; ciphertext?: never } | { ciphertext: string; body?: never });

export type ClientFrame = { id?: string } & (
  | { type: 'auth'; token: string }
  | ({ type: 'send'; conversationId: string } & SendFields)
  | { type: 'typing'; conversationId: string; state: 'started' | 'stopped' }
  | { type: 'read' | 'delivered'; conversationId: string; seq: number }
  | { type: 'resume'; cursors: Record<string, ResumeCursor> }
  | { type: 'presence'; status: 'online' | 'away' }
  | { type: 'ping' }
);

/** A conversation's resume cursor: the last seq held, or that and the last change position held. */
export type ResumeCursor = number | { seq: number; pos?: number };

export interface ReadyFrame {
  type: 'ready';
  connectionId: string;
  userId: string;
  sessionId: string;
  heartbeatMs: number;
  /** Epoch ms. */
  tokenExpiresAt: number;
  limits: {
    maxFrameBytes: number;
    maxBufferedBytes: number;
    framesPerSecond: number;
    /** Frames a connection may send at once above the rate (servers before 0.13 leave it out). */
    frameBurst?: number;
  };
}
export interface SendAck {
  type: 'ack';
  for: 'send';
  id?: string;
  messageId: string;
  conversationId: string;
  clientMsgId: string;
  /** Present when the message was already stored (a retry of it). */
  seq?: number;
  /** The message's trace, when the server traces it (quote it when reporting a late message). */
  traceId?: string;
}
export interface ReceiptAck {
  type: 'ack';
  for: 'read' | 'delivered';
  id?: string;
  conversationId: string;
  readSeq: number;
  deliveredSeq: number;
}
export interface AuthAck {
  type: 'ack';
  for: 'auth';
  id?: string;
  tokenExpiresAt: number;
}
export type AckFrame = SendAck | ReceiptAck | AuthAck;
export interface ErrorFrame {
  type: 'error';
  id?: string;
  code: string;
  message: string;
  errors?: { path: string; message: string }[];
  retryAfterMs?: number;
}
export interface TypingFrame {
  type: 'typing';
  conversationId: string;
  userId: string;
  state: 'started' | 'stopped';
}
export interface PresenceFrame {
  type: 'presence';
  /** The same change arrives once per conversation you share with the user. */
  eventId?: string;
  conversationId?: string;
  userId: string;
  status: 'online' | 'away' | 'offline';
  lastSeen?: string;
}

interface EventDataByType {
  'message.created': Message;
  'message.edited': { message: Message };
  'message.deleted': { id: string; seq: number; by: string };
  'reaction.changed': { messageId: string; emoji: string; userId: string; on: boolean };
  'receipt.updated': { userId: string; readSeq: number; deliveredSeq: number };
  'conversation.updated': { change: 'created' | 'updated' | 'role' } & Record<string, unknown>;
  'member.added': { userId: string; by: string };
  'member.removed': { userId: string; by: string };
}
/**
 * The `data` of each chat event type. The types come from the AsyncAPI document (events.ts is
 * generated): a new event there fails to compile here until its data shape is written above.
 */
export type EventData = { [T in EventType]: EventDataByType[T] };
export type ChatEventFrame = {
  [T in EventType]: {
    type: T;
    eventId: string;
    conversationId: string;
    occurredAt: string;
    data: EventData[T];
    replay?: boolean;
    /** Every type but message.created: its position in the conversation's change log (resume). */
    pos?: number;
    /** message.created: when the API accepted the send (epoch ms). */
    acceptedAt?: number;
    /** Live events of a traced message: its trace id, and the fan-out span's W3C context. */
    traceId?: string;
    traceparent?: string;
  };
}[EventType];

export type ServerFrame =
  | ReadyFrame
  | AckFrame
  | { type: 'ack'; for: 'presence'; id?: string; status: 'online' | 'away' }
  | ErrorFrame
  | TypingFrame
  | PresenceFrame
  | ChatEventFrame
  | { type: 'pong'; id?: string; ts: number }
  | ResumedFrame
  | { type: 'token.expiring'; expiresAt: number }
  | { type: 'reconnect'; afterMs: number; reason?: string };

export interface ResumedFrame {
  type: 'resumed';
  id?: string;
  /** The last seq replayed per conversation (or the cursor). */
  conversations: Record<string, number>;
  /** The change position reached per conversation (servers before #21 leave it out). */
  positions?: Record<string, number>;
  /** Replays cut at the server's per-resume limit: resume again from the last seq replayed. */
  truncated?: Record<string, number>;
  /** More changes waited than the server replays: reload these conversations over REST. */
  refetch?: string[];
}
