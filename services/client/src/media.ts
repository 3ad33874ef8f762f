import type { ApiTransport } from './transport.ts';
import type { ResponseBody } from './types.ts';

export type Attachment = ResponseBody<'/v1/media/{id}', 'get'>;
export type AttachmentVariant = Attachment['variants'][number];
export type MultipartUpload = ResponseBody<'/v1/media/uploads', 'post', 201>;

export interface UploadInput {
  conversationId: string;
  /** The bytes: a File or Blob (browsers), a Uint8Array or Buffer (Node). */
  file: Blob | Uint8Array;
  /** The name shown to members (default: the File's name, else `file`). */
  filename?: string;
  /** An end-to-end encrypted blob: the server stores it as sent and never decodes it. */
  encrypted?: boolean;
  /** Called after each request (or part) with the bytes sent so far. */
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  /** Timeout of each request or part (default 120 s). */
  timeoutMs?: number;
}

export interface MediaOptions {
  /** Files up to this size go in one request, larger ones as a multipart upload (default 8 MiB). */
  singleMaxBytes?: number;
  /** Parts of a multipart upload in flight at once (default 4). */
  partConcurrency?: number;
}

const enc = encodeURIComponent;
const UPLOAD_TIMEOUT_MS = 120_000;

function toBlob(file: Blob | Uint8Array): Blob {
  return file instanceof Blob ? file : new Blob([file as Uint8Array<ArrayBuffer>]);
}

/**
 * Attachments: uploads (one request for small files; for large ones a multipart upload, whose parts
 * go straight to the object store through presigned URLs, or through the API where the store
 * presigns nothing), metadata and downloads. A message references attachments by id
 * (`sendMessage(conversationId, { …, attachments: [id] })`).
 */
export class ParleyMedia {
  constructor(
    private readonly api: ApiTransport,
    private readonly opts: MediaOptions = {},
  ) {}

  /**
   * Uploads a file to a conversation you are a member of: in one request up to `singleMaxBytes`
   * (or when the server refuses it as too large for one request, as a multipart upload).
   */
  async upload(input: UploadInput): Promise<Attachment> {
    const size = toBlob(input.file).size;
    if (size > (this.opts.singleMaxBytes ?? 8 * 1024 * 1024)) return this.uploadMultipart(input);
    try {
      return await this.uploadSingle(input);
    } catch (err) {
      // The server's one-request limit (MEDIA_MAX_UPLOAD_BYTES) is below ours: take the other way.
      if ((err as { code?: string }).code !== 'ATTACHMENT_TOO_LARGE') throw err;
      return this.uploadMultipart(input);
    }
  }

  /** Uploads a file in one multipart/form-data request (`POST /v1/media`). */
  async uploadSingle(input: UploadInput): Promise<Attachment> {
    const blob = toBlob(input.file);
    const form = new FormData();
    form.set('conversationId', input.conversationId);
    if (input.encrypted) form.set('encrypted', 'true');
    form.set('file', blob, filenameOf(input));
    const r = await this.api.request<Attachment>('POST', '/v1/media', form, {
      timeoutMs: input.timeoutMs ?? UPLOAD_TIMEOUT_MS,
    });
    input.onProgress?.(blob.size, blob.size);
    return r.body;
  }

  /**
   * Uploads a file as a multipart upload: starts it, PUTs each part (to its presigned URL, without
   * the token, or through the API), then completes it with the parts' ETags. Any failure aborts
   * the upload, so the server frees its reservation at once.
   */
  async uploadMultipart(input: UploadInput): Promise<Attachment> {
    const blob = toBlob(input.file);
    const started = (
      await this.api.request<MultipartUpload>('POST', '/v1/media/uploads', {
        conversationId: input.conversationId,
        filename: filenameOf(input),
        size: blob.size,
        ...(input.encrypted ? { encrypted: true } : {}),
      })
    ).body;
    const id = started.attachment.id;
    try {
      const parts = await this.sendParts(id, blob, started, input);
      return (await this.api.request<Attachment>('POST', `/v1/media/uploads/${enc(id)}/complete`, { parts }))
        .body;
    } catch (err) {
      await this.abortUpload(id).catch(() => undefined);
      throw err;
    }
  }

  private async sendParts(
    id: string,
    blob: Blob,
    started: MultipartUpload,
    input: UploadInput,
  ): Promise<{ partNumber: number; etag: string }[]> {
    const timeoutMs = input.timeoutMs ?? UPLOAD_TIMEOUT_MS;
    const etags: { partNumber: number; etag: string }[] = [];
    let sent = 0;
    let next = 0;
    const one = async (part: MultipartUpload['parts'][number]): Promise<string> => {
      const from = (part.partNumber - 1) * started.partBytes;
      const bytes = blob.slice(from, from + started.partBytes);
      if (part.url === null) {
        const path = `/v1/media/uploads/${enc(id)}/parts/${part.partNumber}`;
        const typed = new Blob([bytes], { type: 'application/octet-stream' });
        return (await this.api.request<{ etag: string }>('PUT', path, typed, { timeoutMs })).body.etag;
      }
      const res = await this.api.external(part.url, { method: 'PUT', body: bytes }, timeoutMs);
      const text = await res.text();
      if (!res.ok)
        throw new Error(`part ${part.partNumber}: the object store answered ${res.status}: ${text}`);
      // Browsers see the ETag only when the bucket's CORS rule exposes it.
      const etag = res.headers.get('etag');
      if (!etag) throw new Error(`part ${part.partNumber}: the object store answered no ETag`);
      return etag;
    };
    const worker = async (): Promise<void> => {
      while (next < started.parts.length) {
        const part = started.parts[next++]!;
        etags.push({ partNumber: part.partNumber, etag: await one(part) });
        sent += Math.min(started.partBytes, blob.size - (part.partNumber - 1) * started.partBytes);
        input.onProgress?.(sent, blob.size);
      }
    };
    const n = Math.max(1, Math.min(this.opts.partConcurrency ?? 4, started.parts.length));
    await Promise.all(Array.from({ length: n }, worker));
    return etags.sort((a, b) => a.partNumber - b.partNumber);
  }

  /** Abandons a multipart upload in progress and its parts. */
  async abortUpload(id: string): Promise<void> {
    await this.api.request('DELETE', `/v1/media/uploads/${enc(id)}`);
  }

  /** An attachment's metadata (yours, or sent in a conversation you are a member of). */
  async get(id: string): Promise<Attachment> {
    return (await this.api.request<Attachment>('GET', `/v1/media/${enc(id)}`)).body;
  }

  /**
   * The short-lived presigned URL of the file or a variant, or null when the server streams the
   * bytes itself (disk store) or the runtime hides redirects (browsers): then use `download`.
   */
  async downloadUrl(id: string, variant: AttachmentVariant = 'original'): Promise<string | null> {
    const res = await this.content(id, variant, 'manual');
    await res.body?.cancel();
    return res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
  }

  /**
   * The file or a variant as a Response to read or stream (`await res.arrayBuffer()`, `res.body`),
   * from the object store's presigned URL (fetched without the token) or from the API.
   */
  async download(
    id: string,
    variant: AttachmentVariant = 'original',
    options: { timeoutMs?: number } = {},
  ): Promise<Response> {
    const timeoutMs = options.timeoutMs ?? UPLOAD_TIMEOUT_MS;
    const res = await this.content(id, variant, 'manual', timeoutMs);
    // Browsers hide a redirect's Location; following it drops the token cross-origin.
    if (res.type === 'opaqueredirect') return this.content(id, variant, 'follow', timeoutMs);
    const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
    if (!location) return res;
    await res.body?.cancel();
    const file = await this.api.external(location, { method: 'GET' }, timeoutMs);
    if (!file.ok) {
      const text = await file.text();
      throw new Error(`download of ${id}: the object store answered ${file.status}: ${text}`);
    }
    return file;
  }

  private content(id: string, variant: AttachmentVariant, redirect: 'follow' | 'manual', timeoutMs?: number) {
    return this.api.fetchRaw('GET', `/v1/media/${enc(id)}/content`, {
      query: { variant },
      redirect,
      ...(timeoutMs ? { timeoutMs } : {}),
    });
  }
}

function filenameOf(input: UploadInput): string {
  if (input.filename) return input.filename;
  const name = (input.file as { name?: unknown }).name;
  return typeof name === 'string' && name ? name : 'file';
}
