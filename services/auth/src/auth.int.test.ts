import { requireEnv } from '@parley/common/testing';
import { authHttpSuite } from './auth.suite.ts';

authHttpSuite('real stack (FerretDB, Kafka, Redis Cluster, Mailpit)', () => ({
  MONGO_URL: requireEnv('MONGO_URL'),
  KAFKA_BROKERS: requireEnv('KAFKA_BROKERS'),
  REDIS_NODES: requireEnv('REDIS_NODES'),
  SMTP_URL: requireEnv('SMTP_URL'),
  MAILPIT_API_URL: requireEnv('MAILPIT_API_URL'),
}));
