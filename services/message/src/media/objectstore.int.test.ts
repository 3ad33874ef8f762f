import { requireEnv } from '@parley/common/testing';
import { objectStoreContract } from './objectstore.contract.ts';
import { S3ObjectStore } from './objectstore.s3.ts';

objectStoreContract('S3 (SeaweedFS of the local stack)', () =>
  S3ObjectStore.open({
    endpoint: requireEnv('S3_ENDPOINT'),
    region: 'us-east-1',
    bucket: requireEnv('S3_BUCKET'),
    accessKeyId: requireEnv('S3_ACCESS_KEY_ID'),
    secretAccessKey: requireEnv('S3_SECRET_ACCESS_KEY'),
    forcePathStyle: true,
    createBucket: true,
  }),
);
