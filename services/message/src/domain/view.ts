import { NEVER } from './envelopes.ts';
import type { Message } from './store.ts';

/** What clients see of a message (tombstones keep id and seq so clients can update). */
export function messageView(m: Message) {
  return {
    id: m._id,
    conversationId: m.conversationId,
    seq: m.seq,
    senderId: m.senderId,
    clientMsgId: m.clientMsgId,
    ...(m.deleted
      ? { deleted: true as const, deletedAt: m.deletedAt }
      : {
          ...(m.body !== undefined ? { body: m.body } : {}),
          ...(m.ciphertext !== undefined ? { ciphertext: m.ciphertext } : {}),
          ...(m.attachments ? { attachments: m.attachments } : {}),
        }),
    ...(m.replyTo ? { replyTo: m.replyTo } : {}),
    createdAt: m.createdAt,
    ...(m.expiresAt < NEVER ? { expiresAt: new Date(m.expiresAt).toISOString() } : {}),
    editCount: m.editCount,
    ...(m.editedAt ? { editedAt: m.editedAt } : {}),
  };
}

/**
 * The start of a message body for the conversation list: at most `max` UTF-16 code units, never
 * ending inside a surrogate pair. A cut pair left a lone surrogate, which the MongoDB driver
 * stores as U+FFFD (found by the generative test, #21).
 */
export function previewText(body: string, max = 140): string {
  if (body.length <= max) return body;
  const last = body.charCodeAt(max - 1);
  return body.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
