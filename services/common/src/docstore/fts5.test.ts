import { expect } from 'chai';
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
});
