import { EmbeddedEventLog, MemoryCache, SqliteDocumentStore } from '@parley/common/testing';
import { batchContract } from './batch.contract.ts';
import { deadLettersContract } from './deadletters.contract.ts';
import { generativeContract } from './generative.contract.ts';

const world = async () => {
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
};

batchContract('embedded log, SQLite', world);
deadLettersContract('embedded log, SQLite', world);
generativeContract('embedded log, SQLite', world, Number(process.env.GENERATIVE_RUNS ?? 150));
