import { MongoDocumentStore, requireEnv } from '@parley/common/testing';
import { messageStoreContract } from './store.contract.ts';

messageStoreContract('MongoDB wire protocol (FerretDB)', async () =>
  MongoDocumentStore.connect({ url: requireEnv('MONGO_URL') }),
);
