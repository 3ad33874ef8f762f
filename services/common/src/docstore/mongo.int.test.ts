import { documentStoreContract } from './contract.ts';
import { MongoDocumentStore } from './mongo.ts';
import { requireEnv } from '../testenv.ts';

documentStoreContract('MongoDB wire protocol (FerretDB)', async () =>
  MongoDocumentStore.connect({ url: requireEnv('MONGO_URL') }),
);
