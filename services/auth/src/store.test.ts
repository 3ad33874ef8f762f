import { SqliteDocumentStore } from '@parley/common/testing';
import { authStoreContract } from './store.contract.ts';

authStoreContract('SQLite (embedded)', async () => new SqliteDocumentStore({ path: ':memory:' }));
