import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { InvalidPartsError, type ObjectStore } from './objectstore.ts';

async function bytesOf(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** S3's smallest non-final part; the disk adapter takes any size, S3 servers refuse less. */
const PART = 5 * 1024 * 1024;

/** The object store port's behaviour, run against every adapter (disk here, S3 against SeaweedFS). */
export function objectStoreContract(name: string, open: () => Promise<ObjectStore>): void {
  describe(`ObjectStore contract: ${name}`, function () {
    this.timeout(60_000);
    let store: ObjectStore;
    const key = () => `test/${randomUUID()}`;
    before(async () => {
      store = await open();
    });
    after(() => store?.close());

    it('answers ping', async () => {
      await store.ping();
    });

    it('puts a buffer and reads back the same bytes, size and type', async () => {
      const k = key();
      const data = randomBytes(70_000);
      expect(await store.put(k, data, 'image/png')).to.equal(data.length);
      expect(await store.head(k)).to.deep.equal({ size: data.length, contentType: 'image/png' });
      const got = await store.get(k);
      expect(got?.contentType).to.equal('image/png');
      expect((await bytesOf(got!.body)).equals(data)).to.equal(true);
    });

    it('puts a stream', async () => {
      const k = key();
      const parts = [randomBytes(1000), randomBytes(3000)];
      expect(await store.put(k, Readable.from(parts), 'application/pdf')).to.equal(4000);
      expect((await bytesOf((await store.get(k))!.body)).equals(Buffer.concat(parts))).to.equal(true);
    });

    it('answers null for a key that does not exist', async () => {
      expect(await store.head(key())).to.equal(null);
      expect(await store.get(key())).to.equal(null);
    });

    it('deletes objects, and deleting a missing key is no error', async () => {
      const [a, b] = [key(), key()];
      await store.put(a, Buffer.from('a'), 'text/plain');
      await store.put(b, Buffer.from('b'), 'text/plain');
      await store.delete([a, b, key()]);
      expect(await store.head(a)).to.equal(null);
      expect(await store.head(b)).to.equal(null);
    });

    it('refuses keys that could escape the store', async () => {
      for (const bad of ['../etc/passwd', '/abs', 'a//b', 'a/../b', ''])
        await store.head(bad).then(
          () => expect.fail(`accepted ${bad}`),
          (err: Error) => expect(err.message).to.match(/invalid object key/),
        );
    });

    it('joins multipart parts in order into one object', async () => {
      const k = key();
      const id = await store.createMultipart(k, 'video/mp4');
      const p1 = randomBytes(PART);
      const p2 = randomBytes(1234);
      // Parts may arrive in any order; complete joins them by number.
      const e2 = await store.uploadPart(k, id, 2, p2);
      const e1 = await store.uploadPart(k, id, 1, p1);
      const size = await store.completeMultipart(k, id, [
        { partNumber: 1, etag: e1 },
        { partNumber: 2, etag: e2 },
      ]);
      expect(size).to.equal(PART + 1234);
      expect(await store.head(k)).to.deep.equal({ size, contentType: 'video/mp4' });
      expect((await bytesOf((await store.get(k))!.body)).equals(Buffer.concat([p1, p2]))).to.equal(true);
    });

    it('refuses a part whose ETag does not match, writes nothing, and completes once it does', async () => {
      const k = key();
      const id = await store.createMultipart(k, 'video/mp4');
      const p1 = randomBytes(PART);
      const p2 = randomBytes(99);
      const e1 = await store.uploadPart(k, id, 1, p1);
      const e2 = await store.uploadPart(k, id, 2, p2);
      await store
        .completeMultipart(k, id, [
          { partNumber: 1, etag: e1 },
          { partNumber: 2, etag: e1 },
        ])
        .then(
          () => expect.fail('completed with a wrong ETag'),
          (err: unknown) => expect(err).to.be.instanceOf(InvalidPartsError),
        );
      expect(await store.head(k)).to.equal(null);
      await store.completeMultipart(k, id, [
        { partNumber: 1, etag: e1 },
        { partNumber: 2, etag: e2 },
      ]);
      expect((await bytesOf((await store.get(k))!.body)).equals(Buffer.concat([p1, p2]))).to.equal(true);
    });

    it('refuses to complete with a part that was never uploaded', async () => {
      const k = key();
      const id = await store.createMultipart(k, 'video/mp4');
      const e1 = await store.uploadPart(k, id, 1, randomBytes(100));
      await store
        .completeMultipart(k, id, [
          { partNumber: 1, etag: e1 },
          { partNumber: 2, etag: e1 },
        ])
        .then(
          () => expect.fail('completed'),
          (err: unknown) => expect(err).to.be.instanceOf(InvalidPartsError),
        );
      await store.abortMultipart(k, id);
    });

    it('aborts an upload: its parts are gone and a second abort is no error', async () => {
      const k = key();
      const id = await store.createMultipart(k, 'video/mp4');
      const e1 = await store.uploadPart(k, id, 1, randomBytes(100));
      await store.abortMultipart(k, id);
      await store.abortMultipart(k, id);
      await store.completeMultipart(k, id, [{ partNumber: 1, etag: e1 }]).then(
        () => expect.fail('completed an aborted upload'),
        (err: unknown) => expect(err).to.be.instanceOf(InvalidPartsError),
      );
      expect(await store.head(k)).to.equal(null);
    });

    it('presigned part and GET URLs work without credentials (where the store has them)', async () => {
      const k = key();
      const id = await store.createMultipart(k, 'application/zip');
      const url = await store.presignPart(k, id, 1, 60);
      if (url === null) {
        expect(store.kind).to.equal('disk');
        expect(await store.presignGet(k, 60, 'x.zip')).to.equal(null);
        return store.abortMultipart(k, id);
      }
      const body = randomBytes(2048);
      const put = await fetch(url, { method: 'PUT', body });
      expect(put.status).to.equal(200);
      const etag = put.headers.get('etag')!;
      await store.completeMultipart(k, id, [{ partNumber: 1, etag }]);
      const get = await fetch((await store.presignGet(k, 60, 'x.zip'))!);
      expect(get.status).to.equal(200);
      expect(Buffer.from(await get.arrayBuffer()).equals(body)).to.equal(true);
    });
  });
}
