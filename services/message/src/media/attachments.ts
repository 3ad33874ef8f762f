import { q, type Collection, type Doc, type DocumentStore } from '@parley/common';
import { mediaProblems as P } from './errors.ts';

export type Variant = 'original' | 'preview' | 'thumbnail';

/** One uploaded file's metadata (the bytes are in the object store under `keys`). */
export interface Attachment extends Doc {
  ownerId: string;
  conversationId: string;
  /** `uploading`: a multipart upload in progress; `ready`: complete and usable in a message. */
  state: 'uploading' | 'ready';
  filename: string;
  /** Sniffed from the bytes; `application/octet-stream` for encrypted blobs. */
  contentType: string;
  /** End-to-end encrypted: stored as sent, never sniffed, decoded or resized. */
  encrypted: boolean;
  /** Bytes of the original. */
  size: number;
  /** Bytes held in the store for it (original and variants; the declared size while uploading): the quota counts this. */
  storedBytes: number;
  keys: Partial<Record<Variant, string>>;
  width?: number;
  height?: number;
  uploadId?: string;
  /** Epoch ms. */
  createdAt: number;
  /** The message that references it; set once, on send. */
  messageId?: string;
  /** Epoch ms: the message's expiry (disappearing messages take their files along). */
  expiresAt?: number;
  /** Epoch ms: when the sweep last saw its message stored (or when it was claimed). */
  verifiedAt?: number;
}

/** The `attachments` collection and the queries the media role and the send path make on it. */
export class AttachmentStore {
  private constructor(readonly docs: Collection<Attachment>) {}

  static async open(ds: DocumentStore): Promise<AttachmentStore> {
    return new AttachmentStore(
      await ds.collection<Attachment>('attachments', [
        { name: 'owner', fields: [['ownerId', 1]] },
        { name: 'message', fields: [['messageId', 1]], sparse: true },
        {
          name: 'state_created',
          fields: [
            ['state', 1],
            ['createdAt', 1],
          ],
        },
        { name: 'expires', fields: [['expiresAt', 1]], sparse: true },
      ]),
    );
  }

  /** Bytes a user holds (every attachment, uploads in progress at their declared size). */
  async usage(ownerId: string): Promise<number> {
    const mine = await this.docs.find({ ownerId });
    return mine.reduce((n, a) => n + a.storedBytes, 0);
  }

  /**
   * Binds attachments to a message on send: each must exist, be the sender's, be complete, be in
   * this conversation, and not belong to another message (a re-send of the same message is fine).
   */
  async claim(
    ownerId: string,
    conversationId: string,
    messageId: string,
    ids: readonly string[],
    expiresAt: number | undefined,
  ): Promise<void> {
    if (ids.length === 0) return;
    if (new Set(ids).size !== ids.length) throw P.ATTACHMENT_NOT_READY('an attachment is listed twice');
    const found = new Map((await this.docs.find({ _id: q.in([...ids]) })).map((a) => [a._id, a]));
    for (const id of ids) {
      const a = found.get(id);
      if (!a || a.ownerId !== ownerId) throw P.ATTACHMENT_NOT_FOUND(`no attachment ${id} of yours`);
      if (a.state !== 'ready') throw P.ATTACHMENT_NOT_READY(`attachment ${id} is still uploading`);
      if (a.conversationId !== conversationId)
        throw P.ATTACHMENT_NOT_READY(`attachment ${id} was uploaded to another conversation`);
      if (a.messageId !== undefined && a.messageId !== messageId)
        throw P.ATTACHMENT_NOT_READY(`attachment ${id} belongs to another message`);
    }
    const now = Date.now();
    for (const id of ids)
      await this.docs.updateOne(
        { _id: id },
        { $set: { messageId, verifiedAt: now, ...(expiresAt !== undefined ? { expiresAt } : {}) } },
      );
  }
}
