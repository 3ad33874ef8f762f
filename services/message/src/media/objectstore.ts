import type { Readable } from 'node:stream';

/**
 * The object store port: blobs by key, plus the S3 multipart protocol for large uploads. Two
 * adapters: local disk (embedded mode, objectstore.disk.ts) and any S3-compatible service
 * (objectstore.s3.ts). Keys are opaque to the store; the media service builds them.
 */
export interface ObjectStore {
  readonly kind: 'disk' | 's3';
  /** Writes an object whole (replacing any); resolves its size in bytes. */
  put(key: string, body: Buffer | Readable, contentType: string): Promise<number>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<StoredObject | null>;
  /** The object's size and type, or null when there is none. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Deletes the objects; keys that do not exist are no error. */
  delete(keys: readonly string[]): Promise<void>;
  /** Starts a multipart upload; resolves its upload id. */
  createMultipart(key: string, contentType: string): Promise<string>;
  /** Uploads one part (1..10000) through this process; resolves its ETag. */
  uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<string>;
  /**
   * A URL the client PUTs one part to directly, valid for `expiresSec`; null when the store has
   * no such URLs (disk), and the client sends the part through the API instead.
   */
  presignPart(key: string, uploadId: string, partNumber: number, expiresSec: number): Promise<string | null>;
  /** Joins the parts (in part-number order) into the object; resolves its size. */
  completeMultipart(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<number>;
  /** Drops an unfinished multipart upload and its parts; an unknown upload is no error. */
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /** A short-lived GET URL; null when the store has none (disk), and the API streams instead. */
  presignGet(key: string, expiresSec: number, filename: string): Promise<string | null>;
  /** Checks the store answers (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface ObjectInfo {
  size: number;
  contentType: string;
}

export interface StoredObject extends ObjectInfo {
  body: Readable;
}

export interface UploadedPart {
  partNumber: number;
  etag: string;
}

/** A part list the store refuses (missing, out of order or unknown parts): a client error. */
export class InvalidPartsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPartsError';
  }
}

/** Keys are built by the media service; anything else is refused before it reaches a path or URL. */
const KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

export function checkKey(key: string): string {
  if (!KEY.test(key) || key.length > 512 || key.includes('..'))
    throw new Error(`invalid object key "${key}"`);
  return key;
}
