import { requireEnv } from '@parley/common/testing';
import { notifySuite } from './notify.suite.ts';

notifySuite('embedded adapters (SQLite, in-process log and cache)', () => ({}));
notifySuite('real stack (FerretDB, Kafka, Redis Cluster)', () => ({
  MONGO_URL: requireEnv('MONGO_URL'),
  KAFKA_BROKERS: requireEnv('KAFKA_BROKERS'),
  REDIS_NODES: requireEnv('REDIS_NODES'),
}));
