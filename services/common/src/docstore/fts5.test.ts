import { expect } from 'chai';
import { TEXT_FLUSH_AT, TEXT_FLUSH_MS } from './fts5.ts';
import { SqliteDocumentStore } from './sqlite.ts';
import type { TermDoc } from './textindex.ts';

describe('Fts5TextIndex', () => {
  it('takes over the term documents an older embedded store kept, once, and drops their table', async () => {
    const store = new SqliteDocumentStore({ path: ':memory:' });
    try {
      const old = await store.collection<TermDoc>('search_terms');
      await old.insertMany([
        { _id: 'hello:m1', term: 'hello', messageId: 'm1', conversationId: 'c1', at: 5 },
        { _id: 'world:m1', term: 'world', messageId: 'm1', conversationId: 'c1', at: 5 },
        { _id: 'hello:m2', term: 'hello', messageId: 'm2', conversationId: 'c2', at: 6 },
      ]);
      const text = await store.textIndex('search_terms');
      expect(await text.find('world', ['c1'], 10)).to.deep.equal([{ ref: 'm1', term: 'world', at: 5 }]);
      expect((await text.find('hello', ['c1', 'c2'], 10)).map((h) => h.ref).sort()).to.deep.equal([
        'm1',
        'm2',
      ]);
      const tables = store.handle
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'c_search_terms'")
        .all();
      expect(tables).to.deep.equal([]);
      // Opening it again finds nothing to migrate and keeps what is indexed.
      const again = await store.textIndex('search_terms');
      expect(await again.find('hello', ['c2'], 10)).to.have.length(1);
    } finally {
      await store.close();
    }
  });

  it('keeps refs unique by (at, ref), and moves refs unique by ref alone (the older layout) to it', async () => {
    const store = new SqliteDocumentStore({ path: ':memory:' });
    try {
      const db = store.handle;
      const text = await store.textIndex('t');
      await text.add([
        { ref: 'm1', scope: 'c1', at: 10, terms: ['hello'] },
        { ref: 'm2', scope: 'c1', at: 11, terms: ['hello', 'there'] },
      ]);
      await text.find('hello', ['c1'], 1); // indexes the queue
      // Found by (at, ref) through the index, where a ref's index took a random page each.
      const plan = db
        .prepare('EXPLAIN QUERY PLAN SELECT id FROM "x_t_refs" WHERE at = ? AND ref = ?')
        .all(1, 'x');
      expect(JSON.stringify(plan)).to.match(
        /USING COVERING INDEX sqlite_autoindex_x_t_refs_1 \(at=\? AND ref=\?\)/,
      );
      // What a file made before 2026-12 holds: the same rows, unique by ref.
      db.exec(`
        CREATE TABLE old (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, scope TEXT NOT NULL, at INTEGER NOT NULL);
        INSERT INTO old SELECT id, ref, scope, at FROM "x_t_refs";
        DROP TABLE "x_t_refs";
        ALTER TABLE old RENAME TO "x_t_refs";
      `);
      const again = await store.textIndex('t');
      const sql = (
        db.prepare("SELECT sql FROM sqlite_master WHERE name = 'x_t_refs'").get() as { sql: string }
      ).sql;
      expect(sql).to.contain('UNIQUE (at, ref)').and.not.contain('ref TEXT NOT NULL UNIQUE');
      expect((await again.find('hello', ['c1'], 10)).map((h) => h.ref).sort()).to.deep.equal(['m1', 'm2']);
      // Still one entry per ref, and removed by (ref, at).
      await again.add([{ ref: 'm2', scope: 'c1', at: 11, terms: ['hello', 'there'] }]);
      expect(await again.find('there', ['c1'], 10)).to.have.length(1);
      await again.remove([{ ref: 'm2', at: 11 }]);
      expect(await again.find('hello', ['c1'], 10)).to.deep.equal([{ ref: 'm1', term: 'hello', at: 10 }]);
      // A third open finds nothing to move.
      await store.textIndex('t');
      expect(await again.find('hello', ['c1'], 10)).to.have.length(1);
    } finally {
      await store.close();
    }
  });

  describe("indexes in bulk, from a queue written in the caller's commit", () => {
    let store: SqliteDocumentStore;
    const count = (table: string) =>
      (store.handle.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
    const entry = (i: number, scope = 'c1') => ({ ref: `m${i}`, scope, at: i, terms: ['hello', `w${i}`] });
    beforeEach(() => {
      store = new SqliteDocumentStore({ path: ':memory:' });
    });
    afterEach(() => store.close());

    it('queues an entry, indexes it within TEXT_FLUSH_MS, and a find never misses a queued one', async () => {
      const text = await store.textIndex('t');
      await text.add([entry(1)]);
      expect(count('x_t_queue'), 'queued').to.equal(1);
      expect(count('x_t_refs'), 'not indexed yet').to.equal(0);
      await new Promise((resolve) => setTimeout(resolve, TEXT_FLUSH_MS + 50));
      expect(count('x_t_queue')).to.equal(0);
      expect(count('x_t_refs')).to.equal(1);
      await text.add([entry(2)]);
      expect(
        (await text.find('w2', ['c1'], 10)).map((h) => h.ref),
        'a find indexes the queue first',
      ).to.deep.equal(['m2']);
      expect(count('x_t_queue')).to.equal(0);
    });

    it('indexes at once when TEXT_FLUSH_AT entries are queued, and a re-added ref still changes nothing', async () => {
      const text = await store.textIndex('t');
      await text.add(Array.from({ length: TEXT_FLUSH_AT - 1 }, (_, i) => entry(i)));
      expect(count('x_t_refs')).to.equal(0);
      await text.add([entry(0), entry(TEXT_FLUSH_AT)]);
      expect(count('x_t_queue')).to.equal(0);
      expect(count('x_t_refs'), 'the re-added ref once').to.equal(TEXT_FLUSH_AT);
      expect(await text.find('hello', ['c1'], 10_000)).to.have.length(TEXT_FLUSH_AT);
    });

    it('removes an entry still queued', async () => {
      const text = await store.textIndex('t');
      await text.add([entry(1), entry(2)]);
      await text.remove([{ ref: 'm1', at: 1 }]);
      expect((await text.find('hello', ['c1'], 10)).map((h) => h.ref)).to.deep.equal(['m2']);
    });

    it('indexes a queue a crash left behind when it opens', async () => {
      const text = await store.textIndex('t');
      await text.add([entry(1, 'c9')]);
      await store.durable();
      // What the next process finds: the queue as committed, nothing indexed.
      expect(count('x_t_queue')).to.equal(1);
      const next = await store.textIndex('t');
      expect(count('x_t_queue')).to.equal(0);
      expect((await next.find('w1', ['c9'], 10)).map((h) => h.ref)).to.deep.equal(['m1']);
    });
  });
});
