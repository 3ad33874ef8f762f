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
