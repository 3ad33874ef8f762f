import busboy from 'busboy';
import type { IncomingMessage } from 'node:http';
import { mediaProblems as P } from './errors.ts';

export interface UploadForm {
  fields: Record<string, string>;
  filename: string | undefined;
  file: Buffer;
}

/**
 * Reads a multipart/form-data upload of one file within `limit` bytes. Fields must come before
 * the file (browsers' FormData keeps insertion order); the file is held in memory, which the
 * one-request limit bounds (large files take the multipart upload).
 */
export function readUpload(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<UploadForm> {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(type))
    return Promise.reject(P.MALFORMED_UPLOAD('send multipart/form-data with a `file` part'));
  if (Number(req.headers['content-length'] ?? 0) > limit + 64 * 1024) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: { files: 1, fields: 8, fieldSize: 1024, fileSize: limit },
      });
    } catch (err) {
      return reject(P.MALFORMED_UPLOAD((err as Error).message));
    }
    const fields: Record<string, string> = {};
    const chunks: Buffer[] = [];
    let filename: string | undefined;
    let seen = false;
    let settled = false;
    // Settles at the first failure: busboy stops once unpiped and would never close.
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      req.resume();
      reject(err);
    };
    bb.on('field', (name, value) => (fields[name] = value));
    bb.on('file', (name, stream, info) => {
      if (name !== 'file') {
        stream.resume();
        return;
      }
      seen = true;
      filename = info.filename;
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => fail(tooLarge()));
    });
    bb.on('error', (err: Error) => fail(P.MALFORMED_UPLOAD(err.message)));
    bb.on('close', () => {
      if (settled) return;
      if (!seen) return fail(P.MALFORMED_UPLOAD('no `file` part'));
      settled = true;
      resolve({ fields, filename, file: Buffer.concat(chunks) });
    });
    req.on('error', (err) => fail(P.MALFORMED_UPLOAD(err.message)));
    req.pipe(bb);
  });
}

/** Reads a raw body within `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
