import { EventEmitter } from 'node:events';
import type { Cache } from './port.ts';
import { gcra } from '../gcra.ts';

interface Entry {
  value: string;
  expiresAt: number | null;
  /** Present when the key holds a hash. */
  fields?: Map<string, string>;
}

/** The embedded cache: one process, a Map with lazy expiry and a periodic sweep. */
export class MemoryCache implements Cache {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly bus = new EventEmitter();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly now: () => number = Date.now,
    sweepMs = 30_000,
  ) {
    this.bus.setMaxListeners(0);
    this.sweeper = setInterval(() => this.sweep(), sweepMs);
    this.sweeper.unref();
  }

  private live(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e && e.expiresAt !== null && e.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt !== null && e.expiresAt <= now) this.entries.delete(k);
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, opts?: { ttlMs?: number; onlyIfAbsent?: boolean }): Promise<boolean> {
    if (opts?.onlyIfAbsent && this.live(key)) return false;
    this.entries.set(key, { value, expiresAt: opts?.ttlMs ? this.now() + opts.ttlMs : null });
    return true;
  }

  async del(key: string): Promise<boolean> {
    const existed = this.live(key) !== undefined;
    this.entries.delete(key);
    return existed;
  }

  async ttlMs(key: string): Promise<number | null> {
    const e = this.live(key);
    return e && e.expiresAt !== null ? e.expiresAt - this.now() : null;
  }

  async incr(key: string, by: number, ttlMs: number): Promise<number> {
    const e = this.live(key);
    if (!e) {
      this.entries.set(key, { value: String(by), expiresAt: this.now() + ttlMs });
      return by;
    }
    const n = Number(e.value);
    if (!Number.isInteger(n)) throw new Error(`value at ${key} is not an integer`);
    e.value = String(n + by);
    return n + by;
  }

  async takeToken(key: string, intervalMs: number, burst: number) {
    const now = this.now();
    const e = this.live(key);
    const d = gcra(e ? Number(e.value) : null, now, { intervalMs, burst });
    if (d.allowed) this.entries.set(key, { value: String(d.tat), expiresAt: d.tat + 1000 });
    return { allowed: d.allowed, retryAfterMs: d.retryAfterMs };
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    if (this.live(key)?.value !== value) return false;
    this.entries.delete(key);
    return true;
  }

  private hash(key: string): Map<string, string> | undefined {
    const e = this.live(key);
    if (e && !e.fields) throw new Error(`value at ${key} is not a hash`);
    return e?.fields;
  }

  async hashSet(key: string, field: string, value: string, ttlMs: number): Promise<void> {
    const fields = this.hash(key) ?? new Map<string, string>();
    fields.set(field, value);
    this.entries.set(key, { value: '', fields, expiresAt: this.now() + ttlMs });
  }

  async hashGetAll(key: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.hash(key) ?? []);
  }

  async hashDelete(key: string, ...fields: string[]): Promise<number> {
    const h = this.hash(key);
    if (!h) return 0;
    let n = 0;
    for (const f of fields) if (h.delete(f)) n++;
    if (h.size === 0) this.entries.delete(key);
    return n;
  }

  async publish(channel: string, message: string): Promise<void> {
    if (this.closed) throw new Error('cache is closed');
    // Asynchronous like a network hop, so publishers never run subscriber code re-entrantly.
    queueMicrotask(() => this.bus.emit(channel, message));
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    this.bus.on(channel, onMessage);
    return async () => {
      this.bus.off(channel, onMessage);
    };
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('cache is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    this.bus.removeAllListeners();
    this.entries.clear();
  }
}
