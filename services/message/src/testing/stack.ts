import { randomBytes } from 'node:crypto';
import { requireEnv } from '@parley/common/testing';

/** The local real stack's servers (scripts/stack/env.sh), attachments in S3 on SeaweedFS included. */
export function realStackWithS3(): Record<string, string> {
  return {
    MONGO_URL: requireEnv('MONGO_URL'),
    KAFKA_BROKERS: requireEnv('KAFKA_BROKERS'),
    REDIS_NODES: requireEnv('REDIS_NODES'),
    S3_ENDPOINT: requireEnv('S3_ENDPOINT'),
    S3_BUCKET: requireEnv('S3_BUCKET'),
    S3_ACCESS_KEY_ID: requireEnv('S3_ACCESS_KEY_ID'),
    S3_SECRET_ACCESS_KEY: requireEnv('S3_SECRET_ACCESS_KEY'),
    S3_CREATE_BUCKET: 'true',
    // The media role's own consumer group on this run's chat.events (deletions take their files).
    MEDIA_GROUP_ID: `t-${randomBytes(3).toString('hex')}.media`,
  };
}
