import type { Cache } from './cache/port.ts';
import { problems } from './errors.ts';

export interface Limit {
  /** Requests allowed per window. */
  max: number;
  windowMs: number;
}

export interface LimitResult {
  allowed: boolean;
  count: number;
  retryAfterSec: number;
}

/**
 * Fixed-window limits on the cache port: one atomic INCR per hit, the window's expiry set by
 * the first hit. Shared by every replica when the cache is Redis.
 */
export class RateLimiter {
  constructor(
    private readonly cache: Cache,
    private readonly prefix = 'rl:',
  ) {}

  async hit(key: string, limit: Limit, by = 1): Promise<LimitResult> {
    const k = this.prefix + key;
    const count = await this.cache.incr(k, by, limit.windowMs);
    if (count <= limit.max) return { allowed: true, count, retryAfterSec: 0 };
    const ttl = (await this.cache.ttlMs(k)) ?? limit.windowMs;
    return { allowed: false, count, retryAfterSec: Math.max(1, Math.ceil(ttl / 1000)) };
  }

  /** Current count without counting a hit. */
  async peek(key: string, limit: Limit): Promise<LimitResult> {
    const k = this.prefix + key;
    const count = Number((await this.cache.get(k)) ?? 0);
    if (count < limit.max) return { allowed: true, count, retryAfterSec: 0 };
    const ttl = (await this.cache.ttlMs(k)) ?? limit.windowMs;
    return { allowed: false, count, retryAfterSec: Math.max(1, Math.ceil(ttl / 1000)) };
  }

  async reset(key: string): Promise<void> {
    await this.cache.del(this.prefix + key);
  }

  /** Counts a hit and throws RATE_LIMITED with Retry-After when over the limit. */
  async enforce(key: string, limit: Limit, what: string): Promise<void> {
    const r = await this.hit(key, limit);
    if (!r.allowed) throw tooMany(what, r.retryAfterSec);
  }
}

export function tooMany(what: string, retryAfterSec: number) {
  return problems.RATE_LIMITED(`${what}; retry in ${retryAfterSec} s`, {
    headers: { 'retry-after': String(retryAfterSec) },
    extensions: { retryAfter: retryAfterSec },
  });
}
