import { hash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ConsumedRecord } from '@parley/common';
import { commandProblem, SendFields } from './sendrules.ts';

/**
 * The message id is derived from (conversation, sender, clientMsgId): a re-sent or redelivered
 * message maps to the same id everywhere, which makes every step idempotent.
 */
export function messageIdFor(conversationId: string, senderId: string, clientMsgId: string): string {
  // crypto.hash, one call: half the time of a Hash object (1.0 against 2.1 µs here).
  const h = hash('sha256', `${conversationId}\u0000${senderId}\u0000${clientMsgId}`, 'hex');
  // Formatted as a version-8 (custom) UUID.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const SendCommand = z.strictObject({
  type: z.literal('message.send'),
  version: z.literal(1),
  id: z.string().min(1),
  conversationId: z.string().min(1),
  senderId: z.string().min(1),
  clientMsgId: SendFields.clientMsgId,
  body: SendFields.body.optional(),
  ciphertext: SendFields.ciphertext.optional(),
  replyTo: SendFields.replyTo.optional(),
  /** Attachment ids, checked and bound to this message by the api before it produced the command. */
  attachments: z.array(z.string()).max(10).optional(),
  /** Epoch ms after which the message disappears; absent: never. */
  expiresAt: z.number().int().optional(),
  acceptedAt: z.number().int(),
  /** Written by 0.1 (trace context now rides in the record's headers); accepted and ignored. */
  traceparent: z.string().optional(),
  /** Cache channel of the API process waiting for this message (?wait=persisted). */
  notify: z.string().max(200).optional(),
});
export type SendCommand = z.infer<typeof SendCommand>;

/** Every event type on `chat.events`; each reaches clients as a frame of the same type. */
export const chatEventTypes = [
  'message.created',
  'message.edited',
  'message.deleted',
  'reaction.changed',
  'receipt.updated',
  'conversation.updated',
  'member.added',
  'member.removed',
] as const;
export type ChatEventType = (typeof chatEventTypes)[number];

/** The versioned envelope of every record on `chat.events` (key = conversation id). */
export interface ChatEvent<D = Record<string, unknown>> {
  type: ChatEventType;
  version: 1;
  id: string;
  conversationId: string;
  occurredAt: string;
  /** Every member at the time of the event, so fan-out needs no lookup. */
  recipients: string[];
  /** message.created: when the API accepted the send (epoch ms), for end-to-end latency. */
  acceptedAt?: number;
  /** Every type but message.created: its position in the conversation's change log (resume). */
  pos?: number;
  data: D;
}

export function chatEvent<D>(
  type: ChatEventType,
  conversationId: string,
  recipients: string[],
  data: D,
  acceptedAt?: number,
): ChatEvent<D> {
  return {
    type,
    version: 1,
    id: randomUUID(),
    conversationId,
    occurredAt: new Date().toISOString(),
    recipients,
    ...(acceptedAt !== undefined ? { acceptedAt } : {}),
    data,
  };
}

/** Envelope versions of `message.send` this worker understands. */
export const COMMAND_VERSIONS: readonly number[] = [1];

/**
 * Why a record is not a command this worker can store: it is not a JSON object (`unparseable`),
 * carries an envelope version this worker does not know (`version`), or breaks the send rules the
 * API checks before its ack (`invalid`: the API never acks one, so it came from elsewhere).
 */
export type PoisonKind = 'unparseable' | 'version' | 'invalid';

export type ParsedCommand =
  { ok: true; command: SendCommand } | { ok: false; kind: PoisonKind; reason: string };

/**
 * Parses a chat.messages record with the API's own rules (sendrules.ts). A record that fails can
 * never have been acked by this version's API; it is poison (DLQ at once). Nothing else is.
 */
export function parseCommand(value: Buffer): ParsedCommand {
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    return { ok: false, kind: 'unparseable', reason: 'not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { ok: false, kind: 'unparseable', reason: 'not a JSON object' };
  const version = (json as { version?: unknown }).version;
  if (!COMMAND_VERSIONS.includes(version as number))
    return {
      ok: false,
      kind: 'version',
      reason: `unknown envelope version ${JSON.stringify(version)?.slice(0, 40)}; this worker reads ${COMMAND_VERSIONS.join(', ')}`,
    };
  const r = SendCommand.safeParse(json);
  if (!r.success)
    return {
      ok: false,
      kind: 'invalid',
      reason: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    };
  const problem = commandProblem(r.data);
  if (problem) return { ok: false, kind: 'invalid', reason: `${problem.path}: ${problem.message}` };
  if (r.data.id !== messageIdFor(r.data.conversationId, r.data.senderId, r.data.clientMsgId))
    return { ok: false, kind: 'invalid', reason: 'id does not match conversation, sender and clientMsgId' };
  return { ok: true, command: r.data };
}

/** Far future for messages that never expire, so reads filter on one range instead of an OR. */
export const NEVER = 8_640_000_000_000_000;

/** A record for a DLQ: the original key, value and headers, plus why and where it came from. */
export function deadLetterRecord(record: ConsumedRecord, reason: string, detail: string) {
  return {
    key: record.key,
    value: record.value,
    headers: {
      ...record.headers,
      'dlq-reason': reason,
      'dlq-detail': detail.slice(0, 1000),
      'dlq-source': `${record.topic}/${record.partition}/${record.offset}`,
      'dlq-at': new Date().toISOString(),
    },
  };
}

/**
 * Where the api hands a send command when the worker runs in the same process over the embedded
 * event log, instead of producing it to `chat.messages` (worker/direct.ts implements it).
 */
export interface DirectSink {
  /** Taking commands now (else the api produces to the log). */
  readonly attached: boolean;
  /** Resolves once the command's message is stored and announced; rejects when it is not. */
  submit(command: SendCommand, headers: Readonly<Record<string, string>>): Promise<void>;
}
