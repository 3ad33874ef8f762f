import { parse } from '../config.ts';
import { requireEnv } from '../testenv.ts';
import { cacheContract } from './contract.ts';
import { RedisCache } from './redis.ts';

cacheContract('Redis Cluster (ioredis)', async () =>
  RedisCache.connect({
    nodes: parse.hostPorts().parse(requireEnv('REDIS_NODES')),
    keyPrefix: 'parley-test:',
  }),
);
