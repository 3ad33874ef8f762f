import { realStackWithS3 } from '../testing/stack.ts';
import { mediaSuite } from './media.suite.ts';

mediaSuite('real stack (S3 on SeaweedFS, FerretDB, Kafka, Redis Cluster)', realStackWithS3);
