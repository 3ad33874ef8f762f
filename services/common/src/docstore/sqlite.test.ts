import { documentStoreContract } from './contract.ts';
import { SqliteDocumentStore } from './sqlite.ts';

documentStoreContract('SQLite (embedded)', async () => new SqliteDocumentStore({ path: ':memory:' }));
