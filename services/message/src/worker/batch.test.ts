import { openEmbeddedWorld } from '../testing/seed.ts';
import { batchContract } from './batch.contract.ts';
import { deadLettersContract } from './deadletters.contract.ts';
import { generativeContract } from './generative.contract.ts';

const world = async () => {
  const { docs, events, cache, close } = await openEmbeddedWorld([]);
  return { store: docs, events, cache, close };
};
batchContract('embedded log, SQLite', world);
deadLettersContract('embedded log, SQLite', world);
generativeContract('embedded log, SQLite', world, Number(process.env.GENERATIVE_RUNS ?? 150));
