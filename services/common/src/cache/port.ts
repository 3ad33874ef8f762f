/**
 * The cache port: short-lived keys (sessions, revocations, rate limits, locks, presence) and
 * channels for fan-out across processes. Redis Cluster in production, a Map in embedded mode.
 * Every operation touches one key, so each maps onto one cluster slot.
 */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  /** Returns false when `onlyIfAbsent` is set and the key exists. */
  set(key: string, value: string, opts?: { ttlMs?: number; onlyIfAbsent?: boolean }): Promise<boolean>;
  /** Returns whether the key existed. */
  del(key: string): Promise<boolean>;
  /** Remaining time to live in ms; null when the key is missing or has no expiry. */
  ttlMs(key: string): Promise<number | null>;
  /**
   * Adds `by` to a counter and returns the new value; the expiry is set when the counter is
   * created, making a fixed-window rate limit one call.
   */
  incr(key: string, by: number, ttlMs: number): Promise<number>;
  /**
   * Takes one request from a token bucket (GCRA, see gcra.ts): `burst` at once, then one per
   * `intervalMs`. Atomic, so every process sharing the cache shares the bucket.
   */
  takeToken(
    key: string,
    intervalMs: number,
    burst: number,
  ): Promise<{ allowed: boolean; retryAfterMs: number }>;
  /** Deletes the key only if it still holds `value` (releasing a lock someone else may have taken over). */
  deleteIfEquals(key: string, value: string): Promise<boolean>;
  /**
   * Sets one field of a hash and (re)sets the whole hash's time to live: presence keeps one field
   * per open socket under one key per user, so a crashed process's entries expire with the key.
   */
  hashSet(key: string, field: string, value: string, ttlMs: number): Promise<void>;
  /** Every field of a hash ({} when the key is missing). */
  hashGetAll(key: string): Promise<Record<string, string>>;
  /** Removes fields; returns how many existed. */
  hashDelete(key: string, ...fields: string[]): Promise<number>;
  /** Delivers to every subscriber of the channel in every process, at most once. */
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is active; the returned function unsubscribes. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
