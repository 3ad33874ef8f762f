import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { objectStoreContract } from './objectstore.contract.ts';
import { DiskObjectStore } from './objectstore.disk.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

objectStoreContract('local disk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'parley-objects-'));
  dirs.push(dir);
  return DiskObjectStore.open(dir);
});
