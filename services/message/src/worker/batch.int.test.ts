import { KafkaEventLog, MemoryCache, MongoDocumentStore, requireEnv } from '@parley/common/testing';
import { batchContract } from './batch.contract.ts';
import { deadLettersContract } from './deadletters.contract.ts';
import { generativeContract } from './generative.contract.ts';

const world = async () => {
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
};

batchContract('Kafka, FerretDB (real stack)', world);
deadLettersContract('Kafka, FerretDB (real stack)', world);
generativeContract('Kafka, FerretDB (real stack)', world, Number(process.env.GENERATIVE_RUNS ?? 60));
