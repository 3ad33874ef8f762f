import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { q, type Logger, type Principal } from '@parley/common';
import type { MessageStore } from '../domain/store.ts';
import type { Attachment, AttachmentStore, Variant } from './attachments.ts';
import { mediaProblems as P } from './errors.ts';
import { CIPHERTEXT_TYPE, imageVariants, isProcessedImage, sniffType, SNIFF_BYTES } from './intake.ts';
import type { MediaMetrics } from './metrics.ts';
import { InvalidPartsError, type ObjectStore, type UploadedPart } from './objectstore.ts';

export interface MediaOptions {
  maxUploadBytes: number;
  maxFileBytes: number;
  partBytes: number;
  allowedTypes: readonly string[];
  quotaBytes: number;
  urlTtlSec: number;
  abandonAfterSec: number;
  imageMaxPixels: number;
  previewPx: number;
  thumbnailPx: number;
}

export interface NewUpload {
  conversationId: string;
  filename: string;
  encrypted: boolean;
}

export type DeleteReason = 'message_deleted' | 'expired' | 'abandoned' | 'orphaned';

/**
 * Attachments: uploads (one request, or S3 multipart for large files), type sniffing and image
 * variants for cleartext files, reads by conversation members, and deletion with their messages.
 * End-to-end encrypted uploads are stored as the client sent them and never decoded.
 */
export class Media {
  constructor(
    private readonly objects: ObjectStore,
    readonly attachments: AttachmentStore,
    private readonly messages: MessageStore,
    private readonly opts: MediaOptions,
    private readonly metrics: MediaMetrics,
    private readonly logger: Logger,
  ) {}

  private async requireMember(p: Principal, conversationId: string): Promise<void> {
    if (!(await this.messages.membership(conversationId, p.userId)))
      throw this.refuse(P.ATTACHMENT_NOT_FOUND('no such conversation among yours'));
  }

  private refuse<E extends Error & { code?: string }>(err: E): E {
    if (err.code) this.metrics.refused.inc({ code: err.code });
    return err;
  }

  private async reserve(p: Principal, bytes: number): Promise<void> {
    const used = await this.attachments.usage(p.userId);
    if (used + bytes > this.opts.quotaBytes)
      throw this.refuse(
        P.STORAGE_QUOTA_EXCEEDED(
          `you hold ${used} bytes of ${this.opts.quotaBytes}; this needs ${bytes} more`,
        ),
      );
  }

  /** A file sent in one request (at most maxUploadBytes, already read by the route). */
  async uploadSmall(p: Principal, u: NewUpload, bytes: Buffer): Promise<Attachment> {
    await this.requireMember(p, u.conversationId);
    if (bytes.length === 0) throw P.MALFORMED_UPLOAD('the file is empty');
    if (bytes.length > this.opts.maxUploadBytes) throw this.tooLarge(this.opts.maxUploadBytes);
    await this.reserve(p, bytes.length);
    const id = randomUUID();
    const a = await this.store(p, u, id, bytes);
    this.metrics.uploads.inc({ kind: 'single' });
    this.metrics.uploadBytes.inc({ kind: 'single' }, bytes.length);
    return a;
  }

  tooLarge(limit: number) {
    return this.refuse(P.ATTACHMENT_TOO_LARGE(`files sent this way may have at most ${limit} bytes`));
  }

  private key(conversationId: string, id: string, v: Variant): string {
    return `att/${conversationId}/${id}/${v}`;
  }

  /** Sniffs, processes (cleartext images) and writes a whole file, then records it. */
  private async store(p: Principal, u: NewUpload, id: string, bytes: Buffer): Promise<Attachment> {
    const base = {
      _id: id,
      ownerId: p.userId,
      conversationId: u.conversationId,
      state: 'ready' as const,
      filename: u.filename,
      encrypted: u.encrypted,
      size: bytes.length,
      createdAt: Date.now(),
    };
    const keyOf = (v: Variant) => this.key(u.conversationId, id, v);
    if (u.encrypted) {
      await this.objects.put(keyOf('original'), bytes, CIPHERTEXT_TYPE);
      return this.record({
        ...base,
        contentType: CIPHERTEXT_TYPE,
        storedBytes: bytes.length,
        keys: { original: keyOf('original') },
      });
    }
    const { contentType } = await sniffType(bytes.subarray(0, SNIFF_BYTES), this.opts.allowedTypes).catch(
      (err: Error & { code?: string }) => Promise.reject(this.refuse(err)),
    );
    if (!isProcessedImage(contentType)) {
      await this.objects.put(keyOf('original'), bytes, contentType);
      return this.record({
        ...base,
        contentType,
        storedBytes: bytes.length,
        keys: { original: keyOf('original') },
      });
    }
    const stop = this.metrics.processSeconds.startTimer();
    const img = await imageVariants(bytes, {
      previewPx: this.opts.previewPx,
      thumbPx: this.opts.thumbnailPx,
      maxPixels: this.opts.imageMaxPixels,
    }).catch((err: Error & { code?: string }) => Promise.reject(this.refuse(err)));
    stop();
    await Promise.all([
      this.objects.put(keyOf('original'), img.original, contentType),
      this.objects.put(keyOf('preview'), img.preview, 'image/webp'),
      this.objects.put(keyOf('thumbnail'), img.thumbnail, 'image/webp'),
    ]);
    return this.record({
      ...base,
      contentType,
      size: img.original.length,
      storedBytes: img.original.length + img.preview.length + img.thumbnail.length,
      width: img.width,
      height: img.height,
      keys: { original: keyOf('original'), preview: keyOf('preview'), thumbnail: keyOf('thumbnail') },
    });
  }

  private async record(a: Attachment): Promise<Attachment> {
    await this.attachments.docs.insertOne(a);
    return a;
  }

  /** Starts a multipart upload: reserves the declared size and answers where each part goes. */
  async createMultipart(p: Principal, u: NewUpload & { size: number }) {
    await this.requireMember(p, u.conversationId);
    if (u.size > this.opts.maxFileBytes)
      throw this.refuse(P.ATTACHMENT_TOO_LARGE(`files may have at most ${this.opts.maxFileBytes} bytes`));
    const count = Math.max(1, Math.ceil(u.size / this.opts.partBytes));
    if (count > 1000)
      throw this.refuse(
        P.ATTACHMENT_TOO_LARGE(`at most 1000 parts of ${this.opts.partBytes} bytes (MEDIA_PART_BYTES)`),
      );
    await this.reserve(p, u.size);
    const id = randomUUID();
    const key = this.key(u.conversationId, id, 'original');
    // The type is sniffed on complete; until then the object is an opaque blob.
    const uploadId = await this.objects.createMultipart(key, CIPHERTEXT_TYPE);
    const a = await this.record({
      _id: id,
      ownerId: p.userId,
      conversationId: u.conversationId,
      state: 'uploading',
      filename: u.filename,
      contentType: CIPHERTEXT_TYPE,
      encrypted: u.encrypted,
      size: u.size,
      storedBytes: u.size,
      keys: { original: key },
      uploadId,
      createdAt: Date.now(),
    });
    const parts = [];
    for (let n = 1; n <= count; n++)
      parts.push({
        partNumber: n,
        url: await this.objects.presignPart(key, uploadId, n, this.opts.urlTtlSec),
      });
    return { attachment: a, partBytes: this.opts.partBytes, parts };
  }

  private async ownUpload(p: Principal, id: string): Promise<Attachment & { uploadId: string }> {
    const a = await this.attachments.docs.findById(id);
    if (!a || a.ownerId !== p.userId) throw P.ATTACHMENT_NOT_FOUND();
    if (a.state !== 'uploading' || !a.uploadId)
      throw P.ATTACHMENT_NOT_READY('the upload is already complete');
    return a as Attachment & { uploadId: string };
  }

  /** One part through the API, for stores without presigned part URLs (disk). */
  async uploadPart(p: Principal, id: string, partNumber: number, bytes: Buffer): Promise<string> {
    const a = await this.ownUpload(p, id);
    if (bytes.length > this.opts.partBytes) throw this.tooLarge(this.opts.partBytes);
    return this.objects.uploadPart(a.keys.original!, a.uploadId, partNumber, bytes).catch((err: unknown) => {
      throw err instanceof InvalidPartsError ? P.MALFORMED_UPLOAD(err.message) : err;
    });
  }

  /**
   * Joins the parts, then checks what arrived: the real size against the limit and the
   * reservation, the type sniffed from the first bytes. A file that fails is deleted.
   */
  async completeMultipart(p: Principal, id: string, parts: readonly UploadedPart[]): Promise<Attachment> {
    const a = await this.ownUpload(p, id);
    const key = a.keys.original!;
    const size = await this.objects.completeMultipart(key, a.uploadId, parts).catch((err: unknown) => {
      throw err instanceof InvalidPartsError ? P.MALFORMED_UPLOAD(err.message) : err;
    });
    const fail = async (err: Error) => {
      await this.objects.delete([key]);
      await this.attachments.docs.deleteMany({ _id: a._id });
      throw this.refuse(err as Error & { code?: string });
    };
    if (size > this.opts.maxFileBytes || size > a.size)
      return fail(P.ATTACHMENT_TOO_LARGE(`${size} bytes arrived; ${a.size} were declared`));
    let contentType = CIPHERTEXT_TYPE;
    if (!a.encrypted) {
      const head = await this.head(key);
      try {
        contentType = (await sniffType(head, this.opts.allowedTypes)).contentType;
      } catch (err) {
        return fail(err as Error);
      }
    }
    // Large files keep no variants: images past the one-request limit are rare and costly to decode.
    const done = await this.attachments.docs.updateOne(
      { _id: a._id },
      { $set: { state: 'ready', size, storedBytes: size, contentType }, $unset: ['uploadId'] },
    );
    this.metrics.uploads.inc({ kind: 'multipart' });
    this.metrics.uploadBytes.inc({ kind: 'multipart' }, size);
    return done!;
  }

  private async head(key: string): Promise<Buffer> {
    const o = await this.objects.get(key);
    if (!o) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of o.body as AsyncIterable<Buffer>) {
      chunks.push(c);
      n += c.length;
      if (n >= SNIFF_BYTES) break;
    }
    o.body.destroy();
    return Buffer.concat(chunks).subarray(0, SNIFF_BYTES);
  }

  /** Drops an upload in progress and its parts, freeing the reservation. */
  async abort(p: Principal, id: string): Promise<void> {
    const a = await this.ownUpload(p, id);
    await this.objects.abortMultipart(a.keys.original!, a.uploadId);
    await this.attachments.docs.deleteMany({ _id: a._id });
  }

  /**
   * An attachment the caller may read: their own, or one sent in a message of a conversation
   * they are a member of. Anything else is ATTACHMENT_NOT_FOUND (no existence leak).
   */
  async visible(p: Principal, id: string): Promise<Attachment> {
    const a = await this.attachments.docs.findById(id);
    if (!a || (a.expiresAt !== undefined && a.expiresAt <= Date.now())) throw P.ATTACHMENT_NOT_FOUND();
    if (a.ownerId === p.userId && (await this.messages.membership(a.conversationId, p.userId))) return a;
    if (a.messageId === undefined || !(await this.messages.membership(a.conversationId, p.userId)))
      throw P.ATTACHMENT_NOT_FOUND();
    return a;
  }

  /** Where to read a variant: a presigned URL (S3), or the bytes to stream (disk). */
  async read(
    p: Principal,
    id: string,
    variant: Variant,
  ): Promise<{ url: string } | { body: Readable; size: number; contentType: string; filename: string }> {
    const a = await this.visible(p, id);
    if (a.state !== 'ready') throw P.ATTACHMENT_NOT_READY('the upload is not complete');
    const key = a.keys[variant];
    if (!key) throw P.ATTACHMENT_NOT_FOUND(`this attachment has no ${variant}`);
    const url = await this.objects.presignGet(key, this.opts.urlTtlSec, a.filename);
    if (url) return { url };
    const o = await this.objects.get(key);
    if (!o) throw P.ATTACHMENT_NOT_FOUND();
    return { body: o.body, size: o.size, contentType: o.contentType, filename: a.filename };
  }

  /** Deletes attachments with their objects (idempotent: a redelivered event finds nothing). */
  async remove(found: readonly Attachment[], reason: DeleteReason): Promise<number> {
    if (found.length === 0) return 0;
    for (const a of found)
      if (a.state === 'uploading' && a.uploadId)
        await this.objects.abortMultipart(a.keys.original!, a.uploadId);
    await this.objects.delete(found.flatMap((a) => Object.values(a.keys)));
    const n = await this.attachments.docs.deleteMany({ _id: q.in(found.map((a) => a._id)) });
    this.metrics.deleted.inc({ reason }, n);
    return n;
  }

  /** The files of deleted messages (chat.events `message.deleted`). */
  async deleteForMessages(messageIds: readonly string[]): Promise<number> {
    if (messageIds.length === 0) return 0;
    return this.remove(
      await this.attachments.docs.find({ messageId: q.in([...messageIds]) }),
      'message_deleted',
    );
  }

  /**
   * One pass of the level-based clean-up, idempotent on any number of replicas: files of expired
   * (disappearing) messages; uploads never completed, or never sent, after abandonAfterSec; and
   * files whose message is gone or deleted (a send that never reached the log, a missed event).
   */
  async sweep(now = Date.now()): Promise<Record<DeleteReason, number>> {
    const limit = { limit: 500 };
    const old = now - this.opts.abandonAfterSec * 1000;
    const expired = await this.attachments.docs.find({ expiresAt: q.lte(now) }, limit);
    const stale = await this.attachments.docs.find(
      { createdAt: q.lt(old), messageId: q.exists(false) },
      limit,
    );
    const unverified = await this.attachments.docs.find({ verifiedAt: q.lt(old) }, limit);
    const stored = new Map(
      (await this.messages.messages.find({ _id: q.in(unverified.map((a) => a.messageId!)) })).map((m) => [
        m._id,
        m,
      ]),
    );
    const orphaned = unverified.filter((a) => {
      const m = stored.get(a.messageId!);
      return !m || m.deleted;
    });
    const alive = unverified.filter((a) => !orphaned.includes(a)).map((a) => a._id);
    if (alive.length)
      await this.attachments.docs.updateMany({ _id: q.in(alive) }, { $set: { verifiedAt: now } });
    const result = {
      expired: await this.remove(expired, 'expired'),
      abandoned: await this.remove(stale, 'abandoned'),
      orphaned: await this.remove(orphaned, 'orphaned'),
      message_deleted: 0,
    };
    if (result.expired + result.abandoned + result.orphaned > 0)
      this.logger.info(result, 'media sweep deleted attachments');
    return result;
  }
}
