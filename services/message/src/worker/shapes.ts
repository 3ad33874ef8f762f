import { traceHeaders, type ConsumedRecord, type Context, type LogRecord } from '@parley/common';
import { chatEvent, NEVER, type SendCommand } from '../domain/envelopes.ts';
import type { Message } from '../domain/store.ts';
import { messageView, previewText } from '../domain/view.ts';

/** The persister's documents and records, pure. */

/** A record's acceptedAt when it has one (for the retry age), read without validation. */
export function acceptedAtOf(record: ConsumedRecord): number | undefined {
  try {
    const at = (JSON.parse(record.value.toString('utf8')) as { acceptedAt?: unknown }).acceptedAt;
    return typeof at === 'number' && Number.isFinite(at) ? at : undefined;
  } catch {
    return undefined;
  }
}

/** The stored form of a send command with its seq. */
export function messageOf(cmd: SendCommand, seq: number): Message {
  return {
    _id: cmd.id,
    conversationId: cmd.conversationId,
    seq,
    senderId: cmd.senderId,
    clientMsgId: cmd.clientMsgId,
    ...(cmd.body !== undefined ? { body: cmd.body } : {}),
    ...(cmd.ciphertext !== undefined ? { ciphertext: cmd.ciphertext } : {}),
    ...(cmd.replyTo ? { replyTo: cmd.replyTo } : {}),
    ...(cmd.attachments ? { attachments: cmd.attachments } : {}),
    createdAt: new Date().toISOString(),
    acceptedAt: cmd.acceptedAt,
    expiresAt: cmd.expiresAt ?? NEVER,
    editCount: 0,
  };
}

/** `message.created` for `chat.events`, continuing the trace of `ctx`. */
export function createdEvent(
  message: Message,
  command: SendCommand,
  recipients: string[],
  ctx: Context,
): LogRecord {
  return {
    key: message.conversationId,
    value: JSON.stringify(
      chatEvent(
        'message.created',
        message.conversationId,
        recipients,
        messageView(message),
        command.acceptedAt,
      ),
    ),
    headers: { 'event-type': 'message.created', ...traceHeaders(ctx) },
  };
}

/** The conversation state's fields after `m`, its last message of a batch. */
export function stateOf(m: Message, lastSeq: number, emittedSeq: number) {
  return {
    lastSeq,
    emittedSeq,
    lastMessageAt: m.createdAt,
    preview: {
      id: m._id,
      seq: m.seq,
      senderId: m.senderId,
      ...(m.body !== undefined ? { body: previewText(m.body) } : {}),
      encrypted: m.ciphertext !== undefined,
      createdAt: m.createdAt,
    },
  };
}
