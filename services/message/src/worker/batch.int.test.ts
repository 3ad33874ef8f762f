import { KafkaEventLog, MemoryCache, MongoDocumentStore, requireEnv } from '@parley/common/testing';
import { batchContract } from './batch.contract.ts';

batchContract('Kafka, FerretDB (real stack)', async () => {
  const store = await MongoDocumentStore.connect({ url: requireEnv('MONGO_URL') });
  const events = await KafkaEventLog.connect({
    brokers: requireEnv('KAFKA_BROKERS').split(','),
    clientId: 'batch-contract',
    sessionTimeoutMs: 6000,
  });
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
