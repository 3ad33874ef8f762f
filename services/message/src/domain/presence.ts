import { randomUUID } from 'node:crypto';
import type { Cache } from '@parley/common';

export type PresenceStatus = 'online' | 'away' | 'offline';

/**
 * One entry in the user's presence hash: `status|expiresAtMs`, or `status|expiresAtMs|sockets`
 * for a process's entry covering several of the user's sockets (one field per process, not per
 * socket, so every read and write is O(processes) however many devices a user holds).
 */
export function encodeEntry(status: 'online' | 'away', expiresAt: number, sockets = 1): string {
  return sockets === 1 ? `${status}|${expiresAt}` : `${status}|${expiresAt}|${sockets}`;
}

/**
 * A user's presence over every device and pod, pure: online if any live socket is online, away if
 * the live ones are all away, offline if none is live. Entries of crashed pods stop counting when
 * their own expiry passes, before the hash's TTL removes them. `live` counts sockets.
 */
export function aggregatePresence(
  entries: Record<string, string>,
  now: number,
): { status: PresenceStatus; live: number } {
  let online = 0;
  let away = 0;
  for (const v of Object.values(entries)) {
    const sep = v.indexOf('|');
    if (sep < 0) continue;
    const sep2 = v.indexOf('|', sep + 1);
    const exp = Number(sep2 < 0 ? v.slice(sep + 1) : v.slice(sep + 1, sep2));
    const n = sep2 < 0 ? 1 : Number(v.slice(sep2 + 1));
    if (!(exp > now) || !(Number.isSafeInteger(n) && n > 0)) continue;
    if (v.slice(0, sep) === 'online') online += n;
    else away += n;
  }
  return { status: online ? 'online' : away ? 'away' : 'offline', live: online + away };
}

const presenceKey = (userId: string) => `presence:${userId}`;
const lastSeenKey = (userId: string) => `lastseen:${userId}`;
const LAST_SEEN_TTL_MS = 90 * 86_400_000;

export interface PresenceView {
  userId: string;
  status: PresenceStatus;
  lastSeen?: string;
}

/** One of this process's sockets, as presence knows it. */
interface LocalSocket {
  status: 'online' | 'away';
  /** When it was first recorded: a socket never admitted is dropped a TTL later. */
  at: number;
}

/** This process's sockets of one user, with a running count of the online ones. */
class UserSockets {
  readonly byId = new Map<string, LocalSocket>();
  online = 0;

  put(id: string, s: LocalSocket): void {
    this.drop(id);
    this.byId.set(id, s);
    if (s.status === 'online') this.online++;
  }

  drop(id: string): void {
    if (this.byId.get(id)?.status === 'online') this.online--;
    this.byId.delete(id);
  }
}

/**
 * Presence over the cache port: Redis with expiry in production, in-process embedded. Each process
 * keeps one entry per user in the user's hash, summing up its own sockets of that user (how many,
 * online if any is), so a connect, a disconnect and a read cost O(processes), not O(sockets).
 */
export class Presence {
  /** This process's sockets, per user. */
  private readonly local = new Map<string, UserSockets>();

  constructor(
    private readonly cache: Cache,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    /** Called with the new aggregate status whenever a user's changes (for metrics). */
    private readonly onChange: (status: PresenceStatus) => void = () => {},
    /** This process's field in every user's hash. */
    private readonly field: string = `p:${randomUUID()}`,
  ) {}

  async entries(userId: string): Promise<Record<string, string>> {
    return this.cache.hashGetAll(presenceKey(userId));
  }

  /** Records one socket's status; returns the user's aggregate before and after. */
  async set(
    userId: string,
    connectionId: string,
    status: 'online' | 'away',
  ): Promise<{ before: PresenceStatus; after: PresenceStatus; live: number }> {
    const now = this.now();
    const entries = await this.entries(userId);
    const before = aggregatePresence(entries, now).status;
    let mine = this.local.get(userId);
    if (!mine) this.local.set(userId, (mine = new UserSockets()));
    const had = mine.byId.get(connectionId);
    mine.put(connectionId, { status, at: had?.at ?? now });
    let value: string | null;
    try {
      value = await this.write(userId, now);
    } catch (err) {
      // Not recorded: nothing will remove it later, so it must not linger here either.
      if (had) mine.put(connectionId, had);
      else this.forget(userId, [connectionId]);
      throw err;
    }
    const after = aggregatePresence(withEntry(entries, this.field, value), now);
    if (after.status !== before) this.onChange(after.status);
    return { before, after: after.status, live: after.live };
  }

  /**
   * Renews this process's entries (every third of the TTL). `admitted` holds the sockets the
   * gateway serves, per user; a socket recorded here that is not among them and is older than the
   * TTL (its authentication failed half-way) is dropped.
   */
  async refresh(admitted: ReadonlyMap<string, Iterable<{ readonly id: string }>>): Promise<void> {
    const now = this.now();
    for (const [userId, mine] of [...this.local]) {
      const ids = new Set([...(admitted.get(userId) ?? [])].map((s) => s.id));
      for (const [id, s] of mine.byId) if (!ids.has(id) && now - s.at > this.ttlMs) mine.drop(id);
      await this.write(userId, now);
    }
  }

  /** Removes closed sockets; returns the aggregate before and after, and stamps last-seen. */
  async remove(
    userId: string,
    connectionIds: readonly string[],
  ): Promise<{ before: PresenceStatus; after: PresenceStatus; lastSeen?: string }> {
    const now = this.now();
    const entries = await this.entries(userId);
    const before = aggregatePresence(entries, now).status;
    this.forget(userId, connectionIds);
    const value = await this.write(userId, now);
    const after = aggregatePresence(withEntry(entries, this.field, value), now).status;
    if (after !== before) this.onChange(after);
    if (after !== 'offline') return { before, after };
    const lastSeen = new Date(now).toISOString();
    await this.cache.set(lastSeenKey(userId), lastSeen, { ttlMs: LAST_SEEN_TTL_MS });
    return { before, after, lastSeen };
  }

  async view(userId: string): Promise<PresenceView> {
    const { status } = aggregatePresence(await this.entries(userId), this.now());
    if (status !== 'offline') return { userId, status };
    const lastSeen = await this.cache.get(lastSeenKey(userId));
    return { userId, status, ...(lastSeen ? { lastSeen } : {}) };
  }

  private forget(userId: string, connectionIds: readonly string[]): void {
    const mine = this.local.get(userId);
    for (const id of connectionIds) mine?.drop(id);
  }

  /**
   * Writes this process's entry for a user from its sockets, or deletes it when none is left.
   * The value is computed and sent with no await between, so concurrent writes for one user land
   * in the order their sockets changed.
   */
  private async write(userId: string, now: number): Promise<string | null> {
    const mine = this.local.get(userId);
    if (!mine?.byId.size) {
      this.local.delete(userId);
      await this.cache.hashDelete(presenceKey(userId), this.field);
      return null;
    }
    const value = encodeEntry(mine.online ? 'online' : 'away', now + this.ttlMs, mine.byId.size);
    await this.cache.hashSet(presenceKey(userId), this.field, value, this.ttlMs);
    return value;
  }
}

function withEntry(entries: Record<string, string>, field: string, value: string | null) {
  const out = { ...entries };
  if (value === null) delete out[field];
  else out[field] = value;
  return out;
}
