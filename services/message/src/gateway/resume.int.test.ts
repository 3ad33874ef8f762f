import { requireEnv } from '@parley/common/testing';
import { resumeSuite } from './resume.suite.ts';

resumeSuite('real stack (Kafka, FerretDB, Redis Cluster)', () => ({
  MONGO_URL: requireEnv('MONGO_URL'),
  KAFKA_BROKERS: requireEnv('KAFKA_BROKERS'),
  REDIS_NODES: requireEnv('REDIS_NODES'),
}));
