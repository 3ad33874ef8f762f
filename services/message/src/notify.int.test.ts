import { requireEnv } from '@parley/common/testing';
import { notifySuite } from './notify.suite.ts';

notifySuite('embedded adapters (SQLite, in-process log and cache)', () => ({}));
notifySuite('real stack (FerretDB, Kafka, Redis Cluster, S3 on SeaweedFS)', () => ({
  MONGO_URL: requireEnv('MONGO_URL'),
  KAFKA_BROKERS: requireEnv('KAFKA_BROKERS'),
  REDIS_NODES: requireEnv('REDIS_NODES'),
  S3_ENDPOINT: requireEnv('S3_ENDPOINT'),
  S3_BUCKET: requireEnv('S3_BUCKET'),
  S3_ACCESS_KEY_ID: requireEnv('S3_ACCESS_KEY_ID'),
  S3_SECRET_ACCESS_KEY: requireEnv('S3_SECRET_ACCESS_KEY'),
  S3_CREATE_BUCKET: 'true',
}));
