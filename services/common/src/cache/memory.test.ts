import { cacheContract } from './contract.ts';
import { MemoryCache } from './memory.ts';

cacheContract('in-process (embedded)', async () => new MemoryCache());
