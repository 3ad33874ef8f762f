import { EmbeddedEventLog, MemoryCache, SqliteDocumentStore } from '@parley/common/testing';
import { batchContract } from './batch.contract.ts';

batchContract('embedded log, SQLite', async () => {
  const store = new SqliteDocumentStore({ path: ':memory:' });
  const events = new EmbeddedEventLog({ db: store.handle });
  const cache = new MemoryCache();
  return {
    store,
    events,
    cache,
    close: async () => {
      await events.close();
      await cache.close();
      await store.close();
    },
  };
});
