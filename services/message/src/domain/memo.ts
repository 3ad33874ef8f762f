/**
 * Loaded values kept for `ttlMs` at most, at most `maxEntries` of them (the oldest go first). A
 * load in flight is shared by every caller of its key; a failed one is not kept. Forgetting a key
 * also drops a load in flight for it: the next caller loads again.
 */
export interface LoadingCacheOptions {
  /** How long a value is trusted without being forgotten. */
  ttlMs: number;
  /** Values kept; the oldest go first. */
  maxEntries: number;
}

export class LoadingCache<V> {
  private readonly entries = new Map<string, { expires: number; value: Promise<V> }>();

  constructor(private readonly opts: LoadingCacheOptions) {}

  get(key: string, load: () => Promise<V>, now = Date.now()): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    const value = load();
    this.entries.delete(key);
    this.entries.set(key, { expires: now + this.opts.ttlMs, value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    if (this.entries.size > this.opts.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets every key `match` accepts. */
  forgetWhere(match: (key: string) => boolean): void {
    for (const key of this.entries.keys()) if (match(key)) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
