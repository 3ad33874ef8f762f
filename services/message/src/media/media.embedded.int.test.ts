import { mediaSuite } from './media.suite.ts';

mediaSuite('embedded (disk object store, SQLite)', () => ({}));
