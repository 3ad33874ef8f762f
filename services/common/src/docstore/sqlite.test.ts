import { expect } from 'chai';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../retry.ts';
import { documentStoreContract } from './contract.ts';
import { SqliteDocumentStore } from './sqlite.ts';

documentStoreContract('SQLite (embedded)', async () => new SqliteDocumentStore({ path: ':memory:' }));

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
