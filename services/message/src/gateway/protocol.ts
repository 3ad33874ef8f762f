import { chatEventTypes } from '../domain/envelopes.ts';
import { z } from 'zod';
import { checkJsonShape, findNul, JSON_LIMITS } from '@parley/common';
import { SendBody } from '../api/schemas.ts';

/**
 * The WebSocket protocol of `GET /v1/ws` (version 1), pure: frame schemas, close codes and error
 * codes. The AsyncAPI document (`asyncapi.yaml`) describes the same frames; a test keeps them in step.
 *
 * Every frame is a JSON text frame with a `type`. Client frames may carry an `id` (up to 64
 * printable characters) that the server echoes on the matching `ack` or `error`.
 */
export const PROTOCOL = 'parley.v1';
/** Subprotocol prefix that carries the access token, so it never appears in a URL or log line. */
export const BEARER_PROTOCOL_PREFIX = 'parley.bearer.';

/**
 * Close codes. 1000-1015 are RFC 6455's; 4000-4999 are Parley's. Clients decide from the code
 * alone whether to reconnect, refresh first, or give up.
 */
export const CloseCodes = {
  NORMAL: { code: 1000, reconnect: 'no', doc: 'Normal closure (the client closed, or logged out).' },
  PROTOCOL_VIOLATION: {
    code: 1002,
    reconnect: 'backoff',
    doc: 'The frame broke RFC 6455 (reserved bits or opcodes, an unmasked client frame); sent by the `ws` library.',
  },
  INVALID_PAYLOAD: {
    code: 1007,
    reconnect: 'backoff',
    doc: 'A text frame was not valid UTF-8; sent by the `ws` library.',
  },
  MESSAGE_TOO_BIG: {
    code: 1009,
    reconnect: 'yes',
    doc: 'A frame exceeded the size limit (`WS_MAX_FRAME_BYTES`); the frame was not processed.',
  },
  INTERNAL: { code: 1011, reconnect: 'backoff', doc: 'Unexpected server error; reconnect with backoff.' },
  SERVICE_RESTART: {
    code: 1012,
    reconnect: 'yes',
    doc: 'The gateway is draining (deploy or scale-in). A `reconnect` frame with a jittered `afterMs` precedes it; reconnect then resume.',
  },
  TRY_AGAIN_LATER: {
    code: 1013,
    reconnect: 'backoff',
    doc: 'The gateway is not ready (dependencies connecting); reconnect with backoff.',
  },
  PROTOCOL_ERROR: {
    code: 4000,
    reconnect: 'backoff',
    doc: `Twenty invalid frames in a row (not JSON, unknown type, bad fields, binary), or one frame nested deeper than ${JSON_LIMITS.maxDepth} levels or with more than ${JSON_LIMITS.maxKeys} keys. Fix the client.`,
  },
  UNAUTHENTICATED: {
    code: 4001,
    reconnect: 'no',
    doc: 'No valid access token arrived in time (subprotocol or first `auth` frame), or it is forged or for another audience.',
  },
  TOKEN_EXPIRED: {
    code: 4002,
    reconnect: 'refresh',
    doc: 'The access token expired (at connect, or on an open socket that did not send a fresh `auth` after `token.expiring`). Refresh it and reconnect.',
  },
  SESSION_REVOKED: {
    code: 4003,
    reconnect: 'no',
    doc: 'The session was revoked or the account blocked. Sign in again.',
  },
  RATE_LIMITED: {
    code: 4008,
    reconnect: 'backoff',
    doc: 'The connection kept sending after being rate limited (a flood). Reconnect after a backoff.',
  },
  TOO_MANY_CONNECTIONS: {
    code: 4009,
    reconnect: 'backoff',
    doc: 'The user already holds the most sockets allowed (`WS_MAX_CONNECTIONS_PER_USER`), across every gateway.',
  },
  SLOW_CONSUMER: {
    code: 4010,
    reconnect: 'yes',
    doc: 'The socket did not read fast enough: its send buffer passed `WS_MAX_BUFFERED_BYTES`. Reconnect and resume; nothing is lost.',
  },
} as const satisfies Record<
  string,
  { code: number; reconnect: 'no' | 'yes' | 'refresh' | 'backoff'; doc: string }
>;
export type CloseName = keyof typeof CloseCodes;

/** Codes of `error` frames: the REST catalogue's where the meaning is the same, plus these. */
export const frameErrors = {
  MALFORMED_FRAME: {
    doc: `The frame is not a JSON object with a string \`type\`, or breaks the JSON shape limits (nesting deeper than ${JSON_LIMITS.maxDepth}, more than ${JSON_LIMITS.maxKeys} keys; the socket is then closed with 4000).`,
  },
  UNKNOWN_TYPE: { doc: 'The `type` is not a client frame type of this protocol version.' },
  VALIDATION_FAILED: { doc: 'A field has the wrong type, format or is unknown; `errors` lists each.' },
  NOT_AUTHENTICATED: { doc: 'Only `auth` and `ping` are accepted before authentication.' },
  UNAUTHENTICATED: {
    doc: 'A refresh `auth` frame carried an invalid or expired token; the socket stays on its current token.',
  },
  RATE_LIMITED: { doc: 'Too many frames; `retryAfterMs` says when to try again. Persisting closes 4008.' },
  CONVERSATION_NOT_FOUND: { doc: 'No such conversation, or you are not a member.' },
  MESSAGE_NOT_FOUND: { doc: 'replyTo is not a message of this conversation.' },
  BLOCKED: { doc: 'The other user blocked you.' },
  INVALID_CURSOR: {
    doc: 'A resume cursor is neither a non-negative integer seq nor `{seq, pos}` of two such integers.',
  },
  TOKEN_MISMATCH: { doc: 'A refresh `auth` frame carried a token for another user or session.' },
  UNAVAILABLE: {
    doc: 'A dependency is down (a send: the event log did not acknowledge it); retry after `retryAfterMs` with the same clientMsgId.',
  },
  INTERNAL: { doc: 'Unexpected failure; logged with the connection id.' },
} as const;
export type FrameErrorCode = keyof typeof frameErrors;

const FrameId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
const ConversationId = z.uuid();
const Seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const base = { id: FrameId.optional() };

export const ClientFrame = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('auth'), ...base, token: z.string().min(1).max(8192) }),
  z.strictObject({
    type: z.literal('send'),
    ...base,
    conversationId: ConversationId,
    clientMsgId: SendBody.shape.clientMsgId,
    body: SendBody.shape.body,
    ciphertext: SendBody.shape.ciphertext,
    replyTo: SendBody.shape.replyTo,
    ttlSeconds: SendBody.shape.ttlSeconds,
    attachments: SendBody.shape.attachments,
    /**
     * A retry of a send whose ack never came (after a reconnect): the server looks it up first, so
     * a stored message is acked with its seq and not broadcast again.
     */
    resend: z.boolean().optional(),
    /** W3C trace context of the client's span, joined by the server's spans. */
    traceparent: z
      .string()
      .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
      .optional(),
  }),
  z.strictObject({
    type: z.literal('typing'),
    ...base,
    conversationId: ConversationId,
    state: z.enum(['started', 'stopped']).default('started'),
  }),
  z.strictObject({ type: z.literal('read'), ...base, conversationId: ConversationId, seq: Seq }),
  z.strictObject({ type: z.literal('delivered'), ...base, conversationId: ConversationId, seq: Seq }),
  z.strictObject({
    type: z.literal('resume'),
    ...base,
    /**
     * Per conversation: the last seq held, or `{seq, pos}` with the last change position too (then
     * edits, deletions, reactions, receipts and membership changes after it are replayed as well).
     * Conversations left out are not replayed.
     */
    cursors: z.record(z.string(), z.unknown()),
  }),
  z.strictObject({ type: z.literal('presence'), ...base, status: z.enum(['online', 'away']) }),
  z.strictObject({ type: z.literal('ping'), ...base }),
]);
export type ClientFrame = z.output<typeof ClientFrame>;
export type ClientFrameType = ClientFrame['type'];
export const clientFrameTypes = ClientFrame.options.map((o) => o.shape.type.value) as ClientFrameType[];

/** The chat events a user receives (from `chat.events`), plus the gateway's own frames. */
export const eventFrameTypes = chatEventTypes;
export const serverFrameTypes = [
  'ready',
  'ack',
  'error',
  'pong',
  'typing',
  'presence',
  'resumed',
  'token.expiring',
  'reconnect',
  ...eventFrameTypes,
] as const;
export type ServerFrameType = (typeof serverFrameTypes)[number];

export type ParsedFrame =
  | { ok: true; frame: ClientFrame }
  | {
      ok: false;
      id?: string;
      code: 'MALFORMED_FRAME' | 'UNKNOWN_TYPE' | 'VALIDATION_FAILED';
      message: string;
      /** Hostile rather than mistaken (beyond the JSON shape limits): close the socket. */
      fatal?: true;
      errors?: { path: string; message: string }[];
    };

/** Parses one text frame. Never throws: every failure is an error frame's content. */
export function parseClientFrame(text: string): ParsedFrame {
  // Before anything parses or walks the frame: a deeply nested one would overflow every recursion.
  const shape = checkJsonShape(text);
  if (shape) return { ok: false, code: 'MALFORMED_FRAME', message: shape.message, fatal: true };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, code: 'MALFORMED_FRAME', message: 'frame is not valid JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { ok: false, code: 'MALFORMED_FRAME', message: 'frame must be a JSON object' };
  const obj = json as Record<string, unknown>;
  const id = FrameId.safeParse(obj.id).success ? (obj.id as string) : undefined;
  if (typeof obj.type !== 'string')
    return {
      ok: false,
      ...(id ? { id } : {}),
      code: 'MALFORMED_FRAME',
      message: 'frame has no string `type`',
    };
  if (!(clientFrameTypes as string[]).includes(obj.type))
    return {
      ok: false,
      ...(id ? { id } : {}),
      code: 'UNKNOWN_TYPE',
      message: `unknown frame type "${obj.type.slice(0, 40)}"; expected one of ${clientFrameTypes.join(', ')}`,
    };
  const nul = findNul(obj);
  if (nul)
    return {
      ok: false,
      ...(id ? { id } : {}),
      code: 'VALIDATION_FAILED',
      message: `${nul}: text must not contain U+0000`,
    };
  const r = ClientFrame.safeParse(obj);
  if (r.success) {
    if (r.data.type === 'send' && (r.data.body === undefined) === (r.data.ciphertext === undefined))
      return {
        ok: false,
        ...(id ? { id } : {}),
        code: 'VALIDATION_FAILED',
        message: 'send exactly one of body or ciphertext',
        errors: [{ path: 'body', message: 'send exactly one of body or ciphertext' }],
      };
    return { ok: true, frame: r.data };
  }
  const errors = r.error.issues.map((i) => ({ path: i.path.join('.') || '(frame)', message: i.message }));
  return {
    ok: false,
    ...(id ? { id } : {}),
    code: 'VALIDATION_FAILED',
    message: errors.map((e) => `${e.path}: ${e.message}`).join('; '),
    errors,
  };
}

/** A conversation's resume cursor: the last seq held and, when the client tracks it, the last change position. */
export interface Cursor {
  seq: number;
  pos?: number;
}
export type Cursors = Map<string, Cursor>;
const CursorObject = z.strictObject({ seq: Seq, pos: Seq.optional() });

/**
 * Validates resume cursors: conversation id → last seq held, or `{seq, pos}`. At most `max`
 * conversations. Returns the problems instead of throwing, so the gateway answers one error frame.
 */
export function parseCursors(
  raw: Record<string, unknown>,
  max: number,
): { ok: true; cursors: Cursors } | { ok: false; message: string } {
  const entries = Object.entries(raw);
  if (entries.length > max) return { ok: false, message: `at most ${max} conversations per resume` };
  const cursors: Cursors = new Map();
  for (const [conv, value] of entries) {
    if (!ConversationId.safeParse(conv).success)
      return { ok: false, message: `cursor key "${conv.slice(0, 40)}" is not a conversation id` };
    const asSeq = Seq.safeParse(value);
    const asObject = CursorObject.safeParse(value);
    if (asSeq.success) cursors.set(conv, { seq: asSeq.data });
    else if (asObject.success) cursors.set(conv, asObject.data);
    else
      return {
        ok: false,
        message: `cursor of ${conv} must be a non-negative integer seq or {seq, pos} of such integers`,
      };
  }
  return { ok: true, cursors };
}

/** Serializes a server frame once; the gateway writes the same bytes to every socket. */
export function encodeFrame(frame: { type: ServerFrameType } & Record<string, unknown>): string {
  return JSON.stringify(frame);
}
