import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import {
  checkKey,
  InvalidPartsError,
  type ObjectInfo,
  type ObjectStore,
  type StoredObject,
  type UploadedPart,
} from './objectstore.ts';

export interface S3Options {
  /** Empty for AWS itself; the URL of MinIO, Ceph RGW, SeaweedFS… otherwise. */
  endpoint?: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Path-style URLs (bucket in the path), which most self-hosted servers need. */
  forcePathStyle: boolean;
  /** Create the bucket when missing (local stack and tests; production buckets are provisioned). */
  createBucket?: boolean;
}

/** Any S3-compatible service through the AWS SDK v3 (AWS S3, MinIO, Ceph RGW, SeaweedFS). */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3';

  private constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  static async open(o: S3Options): Promise<S3ObjectStore> {
    const s3 = new S3Client({
      region: o.region,
      ...(o.endpoint ? { endpoint: o.endpoint } : {}),
      forcePathStyle: o.forcePathStyle,
      credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey },
      // Checksums on every request are a newer AWS default that S3-compatible servers vary on.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const store = new S3ObjectStore(s3, o.bucket);
    if (o.createBucket) {
      try {
        await s3.send(new HeadBucketCommand({ Bucket: o.bucket }));
      } catch {
        await s3.send(new CreateBucketCommand({ Bucket: o.bucket })).catch((err: unknown) => {
          if (!(err instanceof S3ServiceException && /BucketAlready/.test(err.name))) throw err;
        });
      }
    }
    return store;
  }

  async put(key: string, body: Buffer | Readable, contentType: string): Promise<number> {
    // PutObject needs a length; a stream is buffered (puts are for small objects, multipart for big).
    const bytes = Buffer.isBuffer(body) ? body : await readAll(body);
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: checkKey(key),
        Body: bytes,
        ContentType: contentType,
      }),
    );
    return bytes.length;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const h = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: checkKey(key) }));
      return { size: h.ContentLength ?? 0, contentType: h.ContentType ?? 'application/octet-stream' };
    } catch (err) {
      if (missing(err)) return null;
      throw err;
    }
  }

  async get(key: string): Promise<StoredObject | null> {
    try {
      const o = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: checkKey(key) }));
      return {
        size: o.ContentLength ?? 0,
        contentType: o.ContentType ?? 'application/octet-stream',
        body: o.Body as Readable,
      };
    } catch (err) {
      if (missing(err)) return null;
      throw err;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    // DeleteObjects takes at most 1000 keys.
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000).map((k) => ({ Key: checkKey(k) }));
      const r = await this.s3.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: chunk, Quiet: true } }),
      );
      const failed = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length)
        throw new Error(`S3 delete failed for ${failed.map((e) => `${e.Key}: ${e.Code}`).join(', ')}`);
    }
  }

  async createMultipart(key: string, contentType: string): Promise<string> {
    const r = await this.s3.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: checkKey(key), ContentType: contentType }),
    );
    if (!r.UploadId) throw new Error('S3 answered CreateMultipartUpload without an UploadId');
    return r.UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<string> {
    try {
      const r = await this.s3.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: checkKey(key),
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: body,
        }),
      );
      return r.ETag ?? '';
    } catch (err) {
      throw partsError(err);
    }
  }

  async presignPart(key: string, uploadId: string, partNumber: number, expiresSec: number): Promise<string> {
    const cmd = new UploadPartCommand({
      Bucket: this.bucket,
      Key: checkKey(key),
      UploadId: uploadId,
      PartNumber: partNumber,
    });
    return getSignedUrl(this.s3, cmd, { expiresIn: expiresSec });
  }

  async completeMultipart(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<number> {
    if (parts.length === 0) throw new InvalidPartsError('a multipart upload needs at least one part');
    try {
      await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: checkKey(key),
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      );
    } catch (err) {
      throw partsError(err);
    }
    const info = await this.head(key);
    if (!info) throw new Error(`S3 completed ${key} but it cannot be read`);
    return info.size;
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    try {
      await this.s3.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: checkKey(key), UploadId: uploadId }),
      );
    } catch (err) {
      if (!(err instanceof S3ServiceException && err.name === 'NoSuchUpload')) throw err;
    }
  }

  async presignGet(key: string, expiresSec: number, filename: string): Promise<string> {
    const cmd = new GetObjectCommand({
      Bucket: this.bucket,
      Key: checkKey(key),
      ResponseContentDisposition: `attachment; filename*=UTF-8''${encodeURIComponent(filename)}`,
    });
    return getSignedUrl(this.s3, cmd, { expiresIn: expiresSec });
  }

  async ping(timeoutMs = 3000): Promise<void> {
    // One try within the timeout: a probe that waits out the SDK's retries reports an outage late.
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }), {
        abortSignal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      // A HEAD answer has no body, so the SDK's own message is often just "UnknownError".
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      throw new Error(
        `HeadBucket ${this.bucket}: ${status ? `HTTP ${status} ` : ''}${status === 404 ? 'no such bucket' : (e.message ?? e.name ?? String(err))}`,
        { cause: err },
      );
    }
  }

  async close(): Promise<void> {
    this.s3.destroy();
  }
}

function missing(err: unknown): boolean {
  return (
    err instanceof NoSuchKey ||
    err instanceof NotFound ||
    (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)
  );
}

/** The part-list errors S3 answers with become client errors; the rest stay server errors. */
function partsError(err: unknown): unknown {
  if (
    err instanceof S3ServiceException &&
    /^(InvalidPart|InvalidPartOrder|NoSuchUpload|EntityTooSmall)$/.test(err.name)
  )
    return new InvalidPartsError(`${err.name}: ${err.message}`);
  return err;
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
