import { SqliteDocumentStore } from '@parley/common/testing';
import { messageStoreContract } from './store.contract.ts';

messageStoreContract('SQLite (embedded)', async () => new SqliteDocumentStore({ path: ':memory:' }));
