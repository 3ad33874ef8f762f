import { Cluster, type ClusterNode } from 'ioredis';
import type { Cache } from './port.ts';

import { GCRA_LUA } from '../gcra.ts';

const INCR_WITH_TTL = `
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if v == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`;

const HSET_WITH_TTL = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

const DELETE_IF_EQUALS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * The scripts, each sent once per connection and then run by its SHA (EVALSHA; ioredis resends
 * the body on NOSCRIPT, after a restart or SCRIPT FLUSH). EVAL sent the whole body with every
 * send's rate-limit check and every presence write, and Redis hashed it each time (#19).
 */
const SCRIPTS = {
  parleyIncrWithTtl: INCR_WITH_TTL,
  parleyHsetWithTtl: HSET_WITH_TTL,
  parleyDeleteIfEquals: DELETE_IF_EQUALS,
  parleyGcra: GCRA_LUA,
} as const;

type Scripted = Cluster & {
  [K in keyof typeof SCRIPTS]: (key: string, ...args: (string | number)[]) => Promise<unknown>;
};

export interface RedisCacheOptions {
  nodes: readonly { host: string; port: number }[];
  /** Prefix for every key, so several installs can share a cluster. */
  keyPrefix?: string;
  password?: string;
  onError?: (err: unknown) => void;
}

/**
 * The production cache over Redis Cluster (ioredis). Fan-out uses sharded pub/sub (SPUBLISH /
 * SSUBSCRIBE, Redis 7): a message travels only to the shard owning the channel's slot instead of
 * being broadcast to every node as classic PUBLISH does in a cluster.
 */
export class RedisCache implements Cache {
  readonly kind = 'redis' as const;
  private readonly handlers = new Map<string, Set<(m: string) => void>>();

  private constructor(
    private readonly cluster: Scripted,
    private readonly sub: Cluster,
    private readonly prefix: string,
  ) {
    sub.on('smessage', (channel: string, message: string) => {
      for (const h of this.handlers.get(channel) ?? []) h(message);
    });
  }

  static async connect(opts: RedisCacheOptions): Promise<RedisCache> {
    const nodes: ClusterNode[] = opts.nodes.map((n) => ({ host: n.host, port: n.port }));
    const common = {
      enableReadyCheck: true,
      scaleReads: 'master' as const,
      redisOptions: { password: opts.password, connectTimeout: 3000, maxRetriesPerRequest: 3 },
      clusterRetryStrategy: (times: number) => Math.min(100 * 2 ** times, 5000),
    };
    // No auto-pipelining (enableAutoPipelining): ioredis then handles a MOVED reply per pipeline,
    // not per command, and after a failover keeps routing a moved slot to the old node, failing
    // its commands until something else refreshes the slots (redis/ioredis#2075; the chaos suite's
    // Redis fault caught it: a relay partition stuck on MOVED for a minute).
    const cluster = new Cluster(nodes, common);
    const sub = new Cluster(nodes, { ...common, shardedSubscribers: true });
    for (const c of [cluster, sub]) c.on('error', (err) => opts.onError?.(err));
    try {
      await Promise.all([waitReady(cluster), waitReady(sub)]);
    } catch (err) {
      cluster.disconnect();
      sub.disconnect();
      throw err;
    }
    for (const [name, lua] of Object.entries(SCRIPTS)) cluster.defineCommand(name, { numberOfKeys: 1, lua });
    return new RedisCache(cluster as Scripted, sub, opts.keyPrefix ?? '');
  }

  private k(key: string): string {
    return this.prefix + key;
  }

  async get(key: string): Promise<string | null> {
    return this.cluster.get(this.k(key));
  }

  async set(key: string, value: string, opts?: { ttlMs?: number; onlyIfAbsent?: boolean }): Promise<boolean> {
    const k = this.k(key);
    let res: string | null;
    if (opts?.ttlMs && opts.onlyIfAbsent) res = await this.cluster.set(k, value, 'PX', opts.ttlMs, 'NX');
    else if (opts?.ttlMs) res = await this.cluster.set(k, value, 'PX', opts.ttlMs);
    else if (opts?.onlyIfAbsent) res = await this.cluster.set(k, value, 'NX');
    else res = await this.cluster.set(k, value);
    return res === 'OK';
  }

  async del(key: string): Promise<boolean> {
    return (await this.cluster.del(this.k(key))) > 0;
  }

  async ttlMs(key: string): Promise<number | null> {
    const t = await this.cluster.pttl(this.k(key));
    return t >= 0 ? t : null;
  }

  async incr(key: string, by: number, ttlMs: number): Promise<number> {
    return Number(await this.cluster.parleyIncrWithTtl(this.k(key), by, ttlMs));
  }

  async takeToken(key: string, intervalMs: number, burst: number) {
    const [allowed, retryAfterMs] = (await this.cluster.parleyGcra(this.k(key), intervalMs, burst)) as [
      number,
      number,
    ];
    return { allowed: allowed === 1, retryAfterMs: Number(retryAfterMs) };
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    return Number(await this.cluster.parleyDeleteIfEquals(this.k(key), value)) === 1;
  }

  async hashSet(key: string, field: string, value: string, ttlMs: number): Promise<void> {
    await this.cluster.parleyHsetWithTtl(this.k(key), field, value, ttlMs);
  }

  async hashGetAll(key: string): Promise<Record<string, string>> {
    return this.cluster.hgetall(this.k(key));
  }

  async hashDelete(key: string, ...fields: string[]): Promise<number> {
    return fields.length ? this.cluster.hdel(this.k(key), ...fields) : 0;
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.cluster.spublish(this.k(channel), message);
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    const ch = this.k(channel);
    let set = this.handlers.get(ch);
    if (!set) {
      this.handlers.set(ch, (set = new Set()));
      await this.sub.ssubscribe(ch);
    }
    set.add(onMessage);
    return async () => {
      const s = this.handlers.get(ch);
      if (!s?.delete(onMessage) || s.size > 0) return;
      this.handlers.delete(ch);
      await this.sub.sunsubscribe(ch);
    };
  }

  async ping(): Promise<void> {
    // A cluster is usable only when every slot has a master; CLUSTER INFO tells.
    const info = await this.cluster.cluster('INFO');
    if (!/cluster_state:ok/.test(String(info))) throw new Error('redis cluster state is not ok');
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.cluster.quit(), this.sub.quit()]);
  }
}

function waitReady(c: Cluster): Promise<void> {
  return new Promise((resolve, reject) => {
    if (c.status === 'ready') return resolve();
    const onReady = () => {
      c.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      if (c.status === 'end' || c.status === 'close') {
        c.off('ready', onReady);
        reject(err);
      }
    };
    c.once('ready', onReady);
    c.on('error', onError);
    c.once('end', () => reject(new Error('redis cluster connection ended')));
  });
}
