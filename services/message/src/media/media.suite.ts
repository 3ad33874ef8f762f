import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { waitFor } from '@parley/common';
import { MessageHarness } from '../testing/harness.ts';

const MiB = 1024 * 1024;
const photo = () =>
  sharp({ create: { width: 1200, height: 900, channels: 3, background: '#c33' } })
    .jpeg()
    .withExif({ IFD0: { Copyright: 'secret-gps' } })
    .toBuffer();
const pdf = () => Buffer.concat([Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n'), randomBytes(2000)]);

/**
 * The media role over HTTP (uploads, variants, downloads, send checks, multipart, quota,
 * deletion) on the adapters `stackEnv` selects: disk and SQLite, or S3 on SeaweedFS with
 * FerretDB, Kafka and Redis Cluster.
 */
export function mediaSuite(name: string, stackEnv: () => Record<string, string>): void {
  const h = new MessageHarness(() => ({
    ...stackEnv(),
    MEDIA_MAX_UPLOAD_BYTES: String(MiB),
    MEDIA_PART_BYTES: String(5 * MiB),
    MEDIA_QUOTA_BYTES: String(14 * MiB),
  }));

  const upload = async (
    token: string,
    conversationId: string,
    file: Buffer,
    filename = 'f.bin',
    encrypted = false,
  ) => {
    const form = new FormData();
    form.set('conversationId', conversationId);
    if (encrypted) form.set('encrypted', 'true');
    form.set('file', new Blob([file]), filename);
    const res = await fetch(`${h.running.url}/v1/media`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { code?: string } };
  };

  const download = async (token: string, id: string, variant = 'original') => {
    const res = await fetch(`${h.running.url}/v1/media/${id}/content?variant=${variant}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      bytes: Buffer.from(await res.arrayBuffer()),
    };
  };

  describe(`media: ${name}`, function () {
    this.timeout(30_000);
    before(() => h.start());
    after(() => h.stop());

    it('stores a photo without EXIF, with a preview and a thumbnail, readable by members once sent', async () => {
      const [a, b, c] = [await h.user(), await h.user(), await h.user()];
      const conv = await h.direct(a, b);
      const up = await upload(a.token, conv, await photo(), 'beach.jpg');
      expect(up.status, JSON.stringify(up.body)).to.equal(201);
      expect(up.body).to.include({ contentType: 'image/jpeg', width: 1200, height: 900, encrypted: false });
      expect(up.body.variants).to.deep.equal(['original', 'preview', 'thumbnail']);
      const id = up.body.id as string;
      // Not sent yet: only the uploader sees it.
      expect((await download(b.token, id)).status).to.equal(404);
      const original = await download(a.token, id);
      expect(original.status).to.equal(200);
      expect((await sharp(original.bytes).metadata()).exif).to.equal(undefined);
      const sent = await h.send(a.token, conv, { clientMsgId: 'm1', body: 'look', attachments: [id] });
      expect(sent.statusCode, sent.body).to.equal(201);
      expect(sent.json().attachments).to.deep.equal([id]);
      const thumb = await download(b.token, id, 'thumbnail');
      expect(thumb.status).to.equal(200);
      expect(thumb.type).to.equal('image/webp');
      expect(await sharp(thumb.bytes).metadata()).to.include({ width: 320, height: 320 });
      const preview = await download(b.token, id, 'preview');
      expect((await sharp(preview.bytes).metadata()).width).to.be.at.most(1600);
      // Not a member: the same answer as an unknown id.
      const outsider = await download(c.token, id);
      expect(outsider.status).to.equal(404);
      expect(JSON.parse(outsider.bytes.toString()).code).to.equal('ATTACHMENT_NOT_FOUND');
    });

    it('stores an encrypted blob as sent, never sniffed or resized', async () => {
      const [a, b] = [await h.user(), await h.user()];
      const conv = await h.direct(a, b);
      const blob = randomBytes(5000);
      const up = await upload(a.token, conv, blob, 'x', true);
      expect(up.status).to.equal(201);
      expect(up.body).to.include({ contentType: 'application/octet-stream', encrypted: true });
      expect(up.body.variants).to.deep.equal(['original']);
      expect((await download(a.token, up.body.id as string)).bytes.equals(blob)).to.equal(true);
    });

    it('refuses a type sniffed from the bytes, whatever the name says', async () => {
      const [a, b] = [await h.user(), await h.user()];
      const conv = await h.direct(a, b);
      const up = await upload(
        a.token,
        conv,
        Buffer.from('<html><script>alert(1)</script></html>'),
        'cat.jpg',
      );
      expect(up.status).to.equal(422);
      expect(up.body.code).to.equal('ATTACHMENT_TYPE_NOT_ALLOWED');
      expect((await upload(a.token, conv, pdf(), 'doc.pdf')).body.contentType).to.equal('application/pdf');
    });

    it('refuses a file over the one-request limit, a malformed form and a conversation you are not in', async () => {
      const [a, b, c] = [await h.user(), await h.user(), await h.user()];
      const conv = await h.direct(a, b);
      const big = await upload(a.token, conv, randomBytes(MiB + 1));
      expect([big.status, big.body.code]).to.deep.equal([422, 'ATTACHMENT_TOO_LARGE']);
      const res = await fetch(`${h.running.url}/v1/media`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a.token}`, 'content-type': 'multipart/form-data; boundary=x' },
        body: '--x\r\nContent-Disposition: form-data; name="conversationId"\r\n\r\nnope\r\n--x--\r\n',
      });
      expect(res.status).to.equal(422);
      expect(((await res.json()) as { code: string }).code).to.equal('MALFORMED_UPLOAD');
      const foreign = await upload(c.token, conv, pdf());
      expect([foreign.status, foreign.body.code]).to.deep.equal([404, 'ATTACHMENT_NOT_FOUND']);
    });

    it('checks attachment ids on send: must exist, be yours, be in this conversation', async () => {
      const [a, b] = [await h.user(), await h.user()];
      const conv = await h.direct(a, b);
      const mine = (await upload(a.token, conv, pdf())).body.id as string;
      const theirs = (await upload(b.token, conv, pdf())).body.id as string;
      const unknown = await h.send(a.token, conv, {
        clientMsgId: 'u',
        body: 'x',
        attachments: [randomUUID()],
      });
      expect([unknown.statusCode, unknown.json().code]).to.deep.equal([404, 'ATTACHMENT_NOT_FOUND']);
      const stolen = await h.send(a.token, conv, { clientMsgId: 's', body: 'x', attachments: [theirs] });
      expect([stolen.statusCode, stolen.json().code]).to.deep.equal([404, 'ATTACHMENT_NOT_FOUND']);
      expect(
        (await h.send(a.token, conv, { clientMsgId: 'ok', body: 'x', attachments: [mine] })).statusCode,
      ).to.equal(201);
      const reused = await h.send(a.token, conv, { clientMsgId: 'again', body: 'x', attachments: [mine] });
      expect([reused.statusCode, reused.json().code]).to.deep.equal([409, 'ATTACHMENT_NOT_READY']);
    });

    it('takes a large file in parts (to presigned URLs on S3, through the API on disk) and refuses what would pass the quota', async () => {
      const [a, b] = [await h.user(), await h.user()];
      const conv = await h.direct(a, b);
      const file = Buffer.concat([pdf(), randomBytes(6 * MiB)]);
      const created = await h.call('POST', '/v1/media/uploads', {
        token: a.token,
        body: { conversationId: conv, filename: 'big.pdf', size: file.length },
      });
      expect(created.statusCode, created.body).to.equal(201);
      const { attachment, parts, partBytes } = created.json();
      const presigned = stackEnv().S3_BUCKET !== undefined;
      expect(parts.map((p: { url: string | null }) => p.url !== null)).to.deep.equal([presigned, presigned]);
      const done = [];
      for (const p of parts as { partNumber: number; url: string | null }[]) {
        const body = file.subarray((p.partNumber - 1) * partBytes, p.partNumber * partBytes);
        if (p.url) {
          // Straight to the object store: the URL is the credential.
          const res = await fetch(p.url, { method: 'PUT', body });
          expect(res.status, await res.text()).to.equal(200);
          done.push({ partNumber: p.partNumber, etag: res.headers.get('etag')! });
          continue;
        }
        const res = await fetch(`${h.running.url}/v1/media/uploads/${attachment.id}/parts/${p.partNumber}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${a.token}`, 'content-type': 'application/octet-stream' },
          body,
        });
        expect(res.status).to.equal(200);
        done.push((await res.json()) as { partNumber: number; etag: string });
      }
      // The reservation counts against the quota while the upload runs: 14 MiB - 6 MiB leaves too little.
      const over = await h.call('POST', '/v1/media/uploads', {
        token: a.token,
        body: { conversationId: conv, filename: 'more.pdf', size: 9 * MiB },
      });
      expect([over.statusCode, over.json().code]).to.deep.equal([403, 'STORAGE_QUOTA_EXCEEDED']);
      const complete = await h.call('POST', '/v1/media/uploads/:id/complete', {
        token: a.token,
        params: { id: attachment.id },
        body: { parts: done },
      });
      expect(complete.statusCode, complete.body).to.equal(200);
      expect(complete.json()).to.include({
        state: 'ready',
        contentType: 'application/pdf',
        size: file.length,
      });
      expect((await download(a.token, attachment.id)).bytes.equals(file)).to.equal(true);
    });

    it('deletes the files when their message is deleted', async () => {
      const [a, b] = [await h.user(), await h.user()];
      const conv = await h.direct(a, b);
      const id = (await upload(a.token, conv, await photo())).body.id as string;
      const sent = await h.send(a.token, conv, { clientMsgId: 'd', body: 'x', attachments: [id] });
      // Where the object store keeps the original: a presigned URL (S3), or its file (disk).
      const content = await fetch(`${h.running.url}/v1/media/${id}/content`, {
        headers: { authorization: `Bearer ${a.token}` },
        redirect: 'manual',
      });
      await content.body?.cancel();
      const presigned = content.status === 302 ? content.headers.get('location')! : undefined;
      const file = join(h.env.DATA_DIR!, 'media', 'objects', 'att', conv, id, 'original');
      const stored = async () => (presigned ? (await fetch(presigned)).status === 200 : existsSync(file));
      expect(await stored()).to.equal(true);
      const del = await h.call('DELETE', '/v1/messages/:id', {
        token: a.token,
        params: { id: sent.json().id },
      });
      expect(del.statusCode, del.body).to.equal(204);
      await waitFor(async () => (await download(a.token, id)).status === 404, {
        what: 'the attachment to go',
      });
      await waitFor(async () => !(await stored()), { what: 'its object to go from the store' });
    });
  });
}

function randomUUID() {
  return globalThis.crypto.randomUUID();
}
