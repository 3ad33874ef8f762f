import { notifySuite } from './notify.suite.ts';
import { realStackWithS3 } from './testing/stack.ts';

notifySuite('embedded adapters (SQLite, in-process log and cache)', () => ({}));
notifySuite('real stack (FerretDB, Kafka, Redis Cluster, S3 on SeaweedFS)', realStackWithS3);
