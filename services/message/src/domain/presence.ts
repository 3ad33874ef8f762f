import type { Cache } from '@parley/common';

export type PresenceStatus = 'online' | 'away' | 'offline';

/** One socket's entry in the user's presence hash: `status|expiresAtMs`. */
export function encodeEntry(status: 'online' | 'away', expiresAt: number): string {
  return `${status}|${expiresAt}`;
}

/**
 * A user's presence over every device and pod, pure: online if any live socket is online, away if
 * the live ones are all away, offline if none is live. Entries of crashed pods stop counting when
 * their own expiry passes, before the hash's TTL removes them.
 */
export function aggregatePresence(
  entries: Record<string, string>,
  now: number,
): { status: PresenceStatus; live: number } {
  let online = 0;
  let away = 0;
  for (const v of Object.values(entries)) {
    const sep = v.indexOf('|');
    const exp = Number(v.slice(sep + 1));
    if (sep < 0 || !(exp > now)) continue;
    if (v.slice(0, sep) === 'online') online++;
    else away++;
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

/** Presence over the cache port: Redis with expiry in production, in-process embedded. */
export class Presence {
  constructor(
    private readonly cache: Cache,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    /** Called with the new aggregate status whenever a user's changes (for metrics). */
    private readonly onChange: (status: PresenceStatus) => void = () => {},
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
    const value = encodeEntry(status, now + this.ttlMs);
    await this.cache.hashSet(presenceKey(userId), connectionId, value, this.ttlMs);
    const after = aggregatePresence({ ...entries, [connectionId]: value }, now);
    if (after.status !== before) this.onChange(after.status);
    return { before, after: after.status, live: after.live };
  }

  /** Renews the entries of sockets still open (a third of the TTL apart). */
  async refresh(
    userId: string,
    sockets: readonly { id: string; status: 'online' | 'away' }[],
  ): Promise<void> {
    const exp = this.now() + this.ttlMs;
    for (const s of sockets)
      await this.cache.hashSet(presenceKey(userId), s.id, encodeEntry(s.status, exp), this.ttlMs);
  }

  /** Removes a closed socket; returns the aggregate before and after, and stamps last-seen. */
  async remove(
    userId: string,
    connectionIds: readonly string[],
  ): Promise<{ before: PresenceStatus; after: PresenceStatus; lastSeen?: string }> {
    const now = this.now();
    const entries = await this.entries(userId);
    const before = aggregatePresence(entries, now).status;
    await this.cache.hashDelete(presenceKey(userId), ...connectionIds);
    for (const id of connectionIds) delete entries[id];
    const after = aggregatePresence(entries, now).status;
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
}
