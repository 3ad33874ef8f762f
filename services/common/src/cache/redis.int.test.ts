import { expect } from 'chai';
import { Cluster } from 'ioredis';
import { parse } from '../config.ts';
import { requireEnv } from '../testenv.ts';
import { cacheContract } from './contract.ts';
import { RedisCache } from './redis.ts';

const nodes = () => parse.hostPorts().parse(requireEnv('REDIS_NODES'));

cacheContract('Redis Cluster (ioredis)', async () =>
  RedisCache.connect({ nodes: nodes(), keyPrefix: 'parley-test:' }),
);

describe('Redis Cluster scripts', () => {
  let admin: Cluster;
  let cache: RedisCache;
  before(async () => {
    admin = new Cluster(nodes());
    cache = await RedisCache.connect({ nodes: nodes(), keyPrefix: 'parley-test:scripts:' });
  });
  after(async () => {
    await cache.close();
    admin.disconnect();
  });

  /** EVALSHA and EVAL calls over every primary (INFO commandstats). */
  const calls = async () => {
    let evalsha = 0;
    let evals = 0;
    for (const node of admin.nodes('master')) {
      const info = await node.info('commandstats');
      evalsha += Number(/cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? 0);
      evals += Number(/cmdstat_eval:calls=(\d+)/.exec(info)?.[1] ?? 0);
    }
    return { evalsha, evals };
  };

  it('runs its scripts by SHA, and again after the servers forgot them (SCRIPT FLUSH)', async () => {
    // The first call on each primary loads the script there (NOSCRIPT, then EVAL).
    for (let i = 0; i < 20; i++) await cache.takeToken(`k${i}`, 10, 100);
    const before = await calls();
    for (let i = 0; i < 20; i++) expect((await cache.takeToken(`k${i}`, 10, 100)).allowed).to.equal(true);
    const after = await calls();
    expect(after.evalsha - before.evalsha).to.be.at.least(20);

    for (const node of admin.nodes('master')) await node.script('FLUSH');
    expect(await cache.incr('n', 2, 60_000)).to.equal(2);
    await cache.hashSet('h', 'f', 'v', 60_000);
    expect(await cache.hashGetAll('h')).to.deep.equal({ f: 'v' });
    await cache.set('d', 'x');
    expect(await cache.deleteIfEquals('d', 'x')).to.equal(true);
    expect((await cache.takeToken('after-flush', 10, 100)).allowed).to.equal(true);
  });
});
