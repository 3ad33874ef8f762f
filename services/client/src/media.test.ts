import { expect } from 'chai';
import { ParleyClient } from './client.ts';
import type { TokenPair } from './types.ts';

const tokens: TokenPair = {
  tokenType: 'Bearer',
  accessToken: 'at1',
  accessTokenExpiresAt: '2099-01-01T00:00:00Z',
  refreshToken: 'rt1',
  refreshTokenExpiresAt: '2099-01-01T00:00:00Z',
  sessionId: '00000000-0000-4000-8000-000000000001',
};
const ID = '00000000-0000-4000-8000-0000000000aa';
const attachment = (size: number) => ({
  id: ID,
  conversationId: 'c1',
  ownerId: 'u1',
  filename: 'f.bin',
  contentType: 'image/png',
  size,
  encrypted: false,
  state: 'ready',
  variants: ['original'],
  createdAt: '2026-01-01T00:00:00.000Z',
});

interface Seen {
  line: string;
  auth?: string;
  body?: unknown;
}

/**
 * A fake API and object store: POST /v1/media answers `single` (a status and code), multipart
 * uploads start with 2 MiB parts at presigned URLs (`presign`) or through the API, a part whose
 * number is in `failParts` is refused.
 */
function fakeServer(opts: { presign: boolean; single?: [number, string?]; failParts?: number[] }) {
  const seen: Seen[] = [];
  const json = (status: number, body: unknown, type = 'application/json') =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });
  const fetchFn = (async (url: string, init: RequestInit) => {
    const u = new URL(url);
    const auth = (init.headers as Record<string, string> | undefined)?.authorization;
    seen.push({ line: `${init.method} ${u.host}${u.pathname}${u.search}`, auth, body: init.body });
    const part = /\/parts\/(\d+)$/.exec(u.pathname);
    if (part && opts.failParts?.includes(Number(part[1])))
      return u.host === 's3'
        ? new Response('<Error><Code>SignatureDoesNotMatch</Code></Error>', { status: 403 })
        : json(422, { code: 'MALFORMED_UPLOAD' }, 'application/problem+json');
    if (u.host === 's3' && init.method === 'PUT')
      return new Response(null, { status: 200, headers: { etag: `"etag-${part![1]}"` } });
    if (u.host === 's3') return new Response('the bytes', { status: 200 });
    if (u.pathname === '/v1/media' && init.method === 'POST') {
      const [status, code] = opts.single ?? [201];
      if (code) return json(status, { code }, 'application/problem+json');
      return json(201, attachment(((init.body as FormData).get('file') as Blob).size));
    }
    if (u.pathname === '/v1/media/uploads') {
      const { size } = JSON.parse(String(init.body)) as { size: number };
      const count = Math.ceil(size / (2 * 1024 * 1024));
      return json(201, {
        attachment: { ...attachment(size), state: 'uploading' },
        partBytes: 2 * 1024 * 1024,
        parts: Array.from({ length: count }, (_, i) => ({
          partNumber: i + 1,
          url: opts.presign ? `http://s3/bucket/key/parts/${i + 1}?X-Amz-Signature=x` : null,
        })),
      });
    }
    if (part) return json(200, { partNumber: Number(part[1]), etag: `api-${part[1]}` });
    if (u.pathname.endsWith('/complete')) return json(200, attachment(5 * 1024 * 1024));
    if (init.method === 'DELETE') return new Response(null, { status: 204 });
    if (u.pathname.endsWith('/content'))
      return opts.presign
        ? new Response(null, { status: 302, headers: { location: 'http://s3/bucket/key?X-Amz-Signature=y' } })
        : new Response('the bytes', { status: 200, headers: { 'content-type': 'image/png' } });
    return json(200, attachment(1));
  }) as unknown as typeof fetch;
  const client = new ParleyClient({ baseUrl: 'http://api', fetch: fetchFn, tokens });
  return { seen, client, lines: () => seen.map((s) => s.line) };
}

const bytes = (n: number) => new Uint8Array(n).fill(7);
const MiB = 1024 * 1024;

describe('ParleyClient media', () => {
  it('uploads a small file in one multipart/form-data request with the token', async () => {
    const { seen, client } = fakeServer({ presign: true });
    const a = await client.media.upload({ conversationId: 'c1', file: bytes(1000), filename: 'x.png' });
    expect(a.size).to.equal(1000);
    expect(seen).to.have.length(1);
    expect(seen[0]!.line).to.equal('POST api/v1/media');
    expect(seen[0]!.auth).to.equal('Bearer at1');
    const form = seen[0]!.body as FormData;
    expect(form.get('conversationId')).to.equal('c1');
    expect((form.get('file') as File).name).to.equal('x.png');
    expect(form.get('encrypted')).to.equal(null);
  });

  it('sends a large file as a multipart upload: parts to presigned URLs without the token, then complete with ordered ETags', async () => {
    const { seen, client, lines } = fakeServer({ presign: true });
    const progress: number[] = [];
    await client.media.upload({
      conversationId: 'c1',
      file: bytes(9 * MiB),
      filename: 'big.mp4',
      onProgress: (sent) => progress.push(sent),
    });
    expect(lines().filter((l) => !l.startsWith('PUT s3'))).to.deep.equal([
      'POST api/v1/media/uploads',
      `POST api/v1/media/uploads/${ID}/complete`,
    ]);
    const puts = seen.filter((s) => s.line.startsWith('PUT s3'));
    expect(puts.map((p) => p.line).sort()).to.deep.equal(
      [1, 2, 3, 4, 5].map((n) => `PUT s3/bucket/key/parts/${n}?X-Amz-Signature=x`),
    );
    expect(puts.every((p) => p.auth === undefined)).to.equal(true);
    expect(puts.map((p) => (p.body as Blob).size).reduce((a, b) => a + b)).to.equal(9 * MiB);
    const complete = JSON.parse(String(seen.at(-1)!.body)) as { parts: unknown[] };
    expect(complete.parts).to.deep.equal(
      [1, 2, 3, 4, 5].map((n) => ({ partNumber: n, etag: `"etag-${n}"` })),
    );
    expect(progress.at(-1)).to.equal(9 * MiB);
  });

  it('sends parts through the API when the store presigns nothing', async () => {
    const { seen, client } = fakeServer({ presign: false });
    await client.media.uploadMultipart({ conversationId: 'c1', file: bytes(3 * MiB) });
    const puts = seen.filter((s) => s.line.startsWith('PUT'));
    expect(puts.map((p) => p.line)).to.deep.equal(
      [1, 2].map((n) => `PUT api/v1/media/uploads/${ID}/parts/${n}`),
    );
    expect(puts.every((p) => p.auth === 'Bearer at1')).to.equal(true);
    expect(JSON.parse(String(seen.at(-1)!.body))).to.deep.equal({
      parts: [
        { partNumber: 1, etag: 'api-1' },
        { partNumber: 2, etag: 'api-2' },
      ],
    });
  });

  it('aborts the upload when a part is refused, and reports the store’s answer', async () => {
    const { client, lines } = fakeServer({ presign: true, failParts: [2] });
    const err = (await client.media
      .upload({ conversationId: 'c1', file: bytes(9 * MiB) })
      .catch((e: unknown) => e)) as Error;
    expect(err.message).to.match(/part 2: the object store answered 403: .*SignatureDoesNotMatch/);
    expect(lines()).to.include(`DELETE api/v1/media/uploads/${ID}`);
    expect(lines().some((l) => l.endsWith('/complete'))).to.equal(false);
  });

  it('falls back to a multipart upload when the server refuses a single request as too large', async () => {
    const { client, lines } = fakeServer({ presign: true, single: [413, 'ATTACHMENT_TOO_LARGE'] });
    await client.media.upload({ conversationId: 'c1', file: bytes(3 * MiB) });
    expect(lines()[0]).to.equal('POST api/v1/media');
    expect(lines()[1]).to.equal('POST api/v1/media/uploads');
    expect(lines().at(-1)).to.equal(`POST api/v1/media/uploads/${ID}/complete`);
  });

  it('does not retry other refusals', async () => {
    const { client, lines } = fakeServer({ presign: true, single: [415, 'ATTACHMENT_TYPE_NOT_ALLOWED'] });
    const err = await client.media.upload({ conversationId: 'c1', file: bytes(10) }).catch((e: unknown) => e);
    expect((err as { code: string }).code).to.equal('ATTACHMENT_TYPE_NOT_ALLOWED');
    expect(lines()).to.deep.equal(['POST api/v1/media']);
  });

  it('downloads from the presigned URL without sending the token there', async () => {
    const { seen, client } = fakeServer({ presign: true });
    const res = await client.media.download(ID, 'thumbnail');
    expect(await res.text()).to.equal('the bytes');
    expect(seen.map((s) => [s.line, s.auth])).to.deep.equal([
      [`GET api/v1/media/${ID}/content?variant=thumbnail`, 'Bearer at1'],
      ['GET s3/bucket/key?X-Amz-Signature=y', undefined],
    ]);
    expect(await client.media.downloadUrl(ID)).to.equal('http://s3/bucket/key?X-Amz-Signature=y');
  });

  it('streams from the API when the store presigns nothing (no download URL)', async () => {
    const { client } = fakeServer({ presign: false });
    const res = await client.media.download(ID);
    expect(res.headers.get('content-type')).to.equal('image/png');
    expect(await res.text()).to.equal('the bytes');
    expect(await client.media.downloadUrl(ID)).to.equal(null);
  });
});
