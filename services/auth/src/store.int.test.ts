import { MongoDocumentStore, requireEnv } from '@parley/common/testing';
import { authStoreContract } from './store.contract.ts';

authStoreContract('MongoDB wire protocol (FerretDB)', async () =>
  MongoDocumentStore.connect({ url: requireEnv('MONGO_URL') }),
);
