import { expect } from 'chai';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../retry.ts';
import { documentStoreContract } from './contract.ts';
import { SqliteDocumentStore, type SqliteCollection } from './sqlite.ts';
import { q, type Filter, type FindOptions } from './port.ts';

documentStoreContract('SQLite (embedded)', async () => new SqliteDocumentStore({ path: ':memory:' }));

describe('SqliteDocumentStore collection layout', () => {
  type Item = { _id: string; n: number; tag?: string };

  it('appends documents to a rowid table with an index on id', async () => {
    const store = new SqliteDocumentStore({ path: ':memory:' });
    await store.collection<Item>('items');
    const sql = store.handle.prepare("SELECT sql FROM sqlite_master WHERE name = 'c_items'").pluck().get();
    expect(sql).to.not.match(/WITHOUT ROWID/);
    await store.close();
  });

  it('orders ties by id from the index, as the clustered layout did, without sorting', async () => {
    const store = new SqliteDocumentStore({ path: ':memory:' });
    const items = await store.collection<Item>('items', [
      { name: 'tag', fields: [['tag', 1]] },
      { name: 'n', fields: [['n', 1]], unique: true },
    ]);
    await items.insertMany([
      { _id: 'c', n: 3, tag: 'x' },
      { _id: 'a', n: 1, tag: 'x' },
      { _id: 'b', n: 2, tag: 'y' },
      { _id: 'd', n: 4, tag: 'x' },
    ]);
    expect((await items.find({ tag: 'x' })).map((d) => d._id)).to.deep.equal(['a', 'c', 'd']);
    expect((await items.find({ tag: 'x' }, { sort: [['tag', -1]] })).map((d) => d._id)).to.deep.equal([
      'd',
      'c',
      'a',
    ]);
    const plan = (f: Filter, o?: FindOptions) =>
      (items as unknown as SqliteCollection<Item>).explainFind(f, o).join('; ');
    expect(plan({ tag: 'x' }))
      .to.match(/USING INDEX ix_items_tag/)
      .and.not.include('TEMP B-TREE');
    // A unique key needs no tiebreak: the order is the index's.
    expect(plan({ n: q.gt(1) }, { sort: [['n', -1]] }))
      .to.match(/ix_items_n/)
      .and.not.include('TEMP B-TREE');
    expect((await items.find({ n: q.gt(1) }, { sort: [['n', -1]] })).map((d) => d._id)).to.deep.equal([
      'd',
      'c',
      'b',
    ]);
    await store.close();
  });

  it('keeps using a table clustered by id, as files made before the rowid layout have', async () => {
    const store = new SqliteDocumentStore({ path: ':memory:' });
    store.handle.exec('CREATE TABLE "c_items" (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID');
    store.handle
      .prepare('INSERT INTO "c_items" (id, doc) VALUES (?, ?)')
      .run('b', JSON.stringify({ _id: 'b', n: 2 }));
    const items = await store.collection<Item>('items', [
      { name: 'tag', fields: [['tag', 1]], unique: true, sparse: true },
    ]);
    await items.insertOne({ _id: 'a', n: 1, tag: 'x' });
    await items.insertMany([{ _id: 'c', n: 3 }]);
    expect(await items.insertOne({ _id: 'b', n: 9 }).catch((e: unknown) => (e as Error).name)).to.equal(
      'DuplicateKeyError',
    );
    expect(
      await items.insertOne({ _id: 'd', n: 4, tag: 'x' }).catch((e: unknown) => (e as Error).name),
    ).to.equal('DuplicateKeyError');
    await items.updateOne({ _id: 'b' }, { $set: { n: 20 } });
    await items.updateOne({ _id: 'e' }, { $set: { n: 5 } }, { upsert: true });
    expect(await items.deleteMany({ _id: 'c' })).to.equal(1);
    expect((await items.find({}, { sort: [['_id', 1]] })).map((d) => [d._id, d.n])).to.deep.equal([
      ['a', 1],
      ['b', 20],
      ['e', 5],
    ]);
    expect((await items.findOne({ tag: 'x' }))?._id).to.equal('a');
    await store.close();
  });
});

describe('SqliteDocumentStore on a file', () => {
  it('checkpoints the write-ahead log from its worker thread, not from the writing thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-ckpt-'));
    const path = join(dir, 'parley.db');
    const store = new SqliteDocumentStore({ path });
    try {
      const items = await store.collection<{ _id: string; body: string }>('items');
      const before = statSync(path).size;
      await items.insertMany(
        Array.from({ length: 2000 }, (_, i) => ({ _id: `i${i}`, body: 'x'.repeat(200) })),
      );
      await store.durable();
      // The writer never checkpoints (wal_autocheckpoint = 0): the pages sit in the log…
      expect(store.handle.pragma('wal_autocheckpoint', { simple: true })).to.equal(0);
      expect(statSync(`${path}-wal`).size).to.be.greaterThan(400_000);
      // …until the thread copies them into the database file, within its 1 s interval.
      await waitFor(() => statSync(path).size > before + 400_000, { timeoutMs: 5000 });
      expect(await items.count({})).to.equal(2000);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
