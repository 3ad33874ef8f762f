import { requireEnv } from '@parley/common/testing';
import { messageHttpSuite } from './message.suite.ts';

messageHttpSuite('real stack (FerretDB, Kafka, Redis Cluster)', () => ({
  MONGO_URL: requireEnv('MONGO_URL'),
  KAFKA_BROKERS: requireEnv('KAFKA_BROKERS'),
  REDIS_NODES: requireEnv('REDIS_NODES'),
}));
