import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  checkKey,
  InvalidPartsError,
  type ObjectInfo,
  type ObjectStore,
  type StoredObject,
  type UploadedPart,
} from './objectstore.ts';

/**
 * Objects as files under one directory (embedded mode). Each object is `objects/<key>` plus a
 * `<key>.type` sidecar with its content type; a write goes to a temp file renamed into place, so
 * a reader never sees half an object. Multipart parts wait in `multipart/<uploadId>/`.
 */
export class DiskObjectStore implements ObjectStore {
  readonly kind = 'disk';

  constructor(private readonly root: string) {}

  static async open(root: string): Promise<DiskObjectStore> {
    await mkdir(join(root, 'objects'), { recursive: true });
    await mkdir(join(root, 'multipart'), { recursive: true });
    await mkdir(join(root, 'tmp'), { recursive: true });
    return new DiskObjectStore(root);
  }

  private path(key: string): string {
    return join(this.root, 'objects', checkKey(key));
  }

  private uploadDir(uploadId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(uploadId)) throw new InvalidPartsError(`unknown upload ${uploadId}`);
    return join(this.root, 'multipart', uploadId);
  }

  async put(key: string, body: Buffer | Readable, contentType: string): Promise<number> {
    const target = this.path(key);
    const tmp = join(this.root, 'tmp', randomUUID());
    await mkdir(dirname(target), { recursive: true });
    try {
      await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, createWriteStream(tmp));
      await writeFile(`${target}.type`, contentType);
      await rename(tmp, target);
    } finally {
      await rm(tmp, { force: true });
    }
    return (await stat(target)).size;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const path = this.path(key);
    try {
      const [s, type] = await Promise.all([stat(path), readFile(`${path}.type`, 'utf8')]);
      return { size: s.size, contentType: type };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async get(key: string): Promise<StoredObject | null> {
    const info = await this.head(key);
    if (!info) return null;
    // Opened now, so a delete after this call still lets the reader finish.
    const fh = await open(this.path(key), 'r');
    return { ...info, body: fh.createReadStream() };
  }

  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(
      keys.map(async (k) => {
        const p = this.path(k);
        await rm(p, { force: true });
        await rm(`${p}.type`, { force: true });
      }),
    );
  }

  async createMultipart(key: string, contentType: string): Promise<string> {
    checkKey(key);
    const uploadId = randomUUID();
    const dir = this.uploadDir(uploadId);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'meta.json'), JSON.stringify({ key, contentType }));
    return uploadId;
  }

  private async meta(key: string, uploadId: string): Promise<{ key: string; contentType: string }> {
    let meta: { key: string; contentType: string };
    try {
      meta = JSON.parse(await readFile(join(this.uploadDir(uploadId), 'meta.json'), 'utf8'));
    } catch {
      throw new InvalidPartsError(`unknown upload ${uploadId}`);
    }
    if (meta.key !== key) throw new InvalidPartsError(`upload ${uploadId} is not for ${key}`);
    return meta;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<string> {
    await this.meta(key, uploadId);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000)
      throw new InvalidPartsError(`part number ${partNumber} is not in 1..10000`);
    const etag = `"${createHash('md5').update(body).digest('hex')}"`;
    const dir = this.uploadDir(uploadId);
    const tmp = join(dir, `${partNumber}.${randomUUID()}.tmp`);
    await writeFile(tmp, body);
    await rename(tmp, join(dir, `${partNumber}.part`));
    return etag;
  }

  async presignPart(): Promise<string | null> {
    return null;
  }

  async completeMultipart(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<number> {
    const meta = await this.meta(key, uploadId);
    const dir = this.uploadDir(uploadId);
    if (parts.length === 0) throw new InvalidPartsError('a multipart upload needs at least one part');
    let prev = 0;
    for (const p of parts) {
      if (p.partNumber <= prev) throw new InvalidPartsError('parts must be in ascending part-number order');
      prev = p.partNumber;
      try {
        await stat(join(dir, `${p.partNumber}.part`));
      } catch {
        throw new InvalidPartsError(`part ${p.partNumber} was not uploaded`);
      }
    }
    // Each part is read once: its MD5 is checked against the client's ETag as it streams into the
    // object's temp file, and a mismatch fails the write before the object is renamed into place.
    const size = await this.put(key, Readable.from(verifiedConcat(dir, parts)), meta.contentType);
    await rm(dir, { recursive: true, force: true });
    return size;
  }

  async abortMultipart(_key: string, uploadId: string): Promise<void> {
    await rm(this.uploadDir(uploadId), { recursive: true, force: true });
  }

  async presignGet(): Promise<string | null> {
    return null;
  }

  async ping(): Promise<void> {
    await readdir(join(this.root, 'objects'));
  }

  async close(): Promise<void> {}
}

async function* verifiedConcat(dir: string, parts: readonly UploadedPart[]): AsyncGenerator<Buffer> {
  for (const p of parts) {
    const md5 = createHash('md5');
    for await (const chunk of createReadStream(join(dir, `${p.partNumber}.part`))) {
      md5.update(chunk as Buffer);
      yield chunk as Buffer;
    }
    const etag = `"${md5.digest('hex')}"`;
    if (etag !== p.etag && `"${p.etag}"` !== etag)
      throw new InvalidPartsError(`part ${p.partNumber}: ETag does not match`);
  }
}
