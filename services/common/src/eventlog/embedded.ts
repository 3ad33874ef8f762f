import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { backoffDelay, defaultBackoff } from '../retry.ts';
import {
  assignPartitions,
  checkTopic,
  partitionFor,
  type ConsumedRecord,
  type EventLog,
  type LogRecord,
  type SubscribeOptions,
  type Subscription,
  type TopicSpec,
} from './port.ts';
import type { EventLogMetrics } from './metrics.ts';

interface TP {
  topic: string;
  partition: number;
}

interface Member {
  id: string;
  opts: SubscribeOptions;
  assignment: TP[];
  stopped: boolean;
  loop?: Promise<void>;
}

/** The next offset of a partition (Kafka's high watermark). */
const END_OFFSET =
  'SELECT coalesce(max(offset) + 1, 0) AS n FROM ev_records WHERE topic = ? AND partition = ?';

const key = (g: string, tp: TP) => `${g}\u0000${tp.topic}\u0000${tp.partition}`;

export interface EmbeddedEventLogOptions {
  /** A better-sqlite3 handle to share (the embedded document store's), or a path / ':memory:'. */
  db: Database.Database | string;
  /** Called when a handler throws (the batch is retried). */
  onHandlerError?: (err: unknown, tp: TP, groupId: string) => void;
  /** The same parley_eventlog_* series as the Kafka adapter. */
  metrics?: EventLogMetrics;
}

/**
 * The in-process event log for embedded mode: Kafka's model (topics, partitions, per-key order,
 * consumer groups, committed offsets, at-least-once) kept in SQLite, so records acknowledged to a
 * producer survive a crash of the single process just as they would on a broker.
 */
export class EmbeddedEventLog implements EventLog {
  readonly kind = 'embedded' as const;
  private readonly db: Database.Database;
  private readonly ownsDb: boolean;
  private readonly topics = new Map<string, number>();
  private readonly groups = new Map<string, Map<string, Member>>();
  private readonly busy = new Set<string>();
  private readonly retryAt = new Map<string, { at: number; attempt: number }>();
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly opts: EmbeddedEventLogOptions) {
    this.ownsDb = typeof opts.db === 'string';
    this.db = typeof opts.db === 'string' ? new Database(opts.db) : opts.db;
    if (this.ownsDb) this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS ev_topics (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL, config TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS ev_records (
        topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
        key TEXT NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL, ts INTEGER NOT NULL,
        PRIMARY KEY (topic, partition, offset)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS ev_offsets (
        group_id TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
        PRIMARY KEY (group_id, topic, partition)) WITHOUT ROWID;
    `);
    for (const row of this.db.prepare('SELECT name, partitions FROM ev_topics').all() as {
      name: string;
      partitions: number;
    }[])
      this.topics.set(row.name, row.partitions);
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    const insert = this.db.prepare(
      'INSERT OR IGNORE INTO ev_topics (name, partitions, config) VALUES (?, ?, ?)',
    );
    for (const s of specs) {
      checkTopic(s.name);
      if (!Number.isInteger(s.partitions) || s.partitions < 1)
        throw new Error(`topic ${s.name}: partitions must be >= 1`);
      insert.run(s.name, s.partitions, JSON.stringify(s.config ?? {}));
      if (!this.topics.has(s.name)) this.topics.set(s.name, s.partitions);
      this.opts.metrics?.primeTopic(s.name);
    }
    this.rebalanceAll();
  }

  private partitionsOf(topic: string): number {
    const n = this.topics.get(topic);
    if (n === undefined) throw new Error(`unknown topic ${topic}: create it with ensureTopics first`);
    return n;
  }

  async produce(topic: string, records: readonly LogRecord[]): Promise<void> {
    const { metrics } = this.opts;
    if (metrics) return metrics.timeProduce(topic, records.length, async () => this.append(topic, records));
    this.append(topic, records);
  }

  private append(topic: string, records: readonly LogRecord[]): void {
    if (this.closed) throw new Error('event log is closed');
    const partitions = this.partitionsOf(topic);
    const next = this.db.prepare(END_OFFSET);
    const insert = this.db.prepare(
      'INSERT INTO ev_records (topic, partition, offset, key, value, headers, ts) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const now = Date.now();
    this.db.transaction(() => {
      for (const r of records) {
        const p = partitionFor(r.key, partitions);
        const { n } = next.get(topic, p) as { n: number };
        const value = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
        insert.run(topic, p, n, r.key, value, JSON.stringify(r.headers ?? {}), now);
      }
    })();
    this.wake();
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    if (this.closed) throw new Error('event log is closed');
    for (const t of opts.topics) this.partitionsOf(t);
    const member: Member = { id: randomUUID(), opts, assignment: [], stopped: false };
    let group = this.groups.get(opts.groupId);
    if (!group) this.groups.set(opts.groupId, (group = new Map()));
    group.set(member.id, member);
    this.opts.metrics?.primeGroup(opts.groupId, opts.topics);
    this.initOffsets(opts);
    this.rebalance(opts.groupId);
    member.loop = this.run(member);
    return {
      stop: async () => {
        member.stopped = true;
        this.wake();
        await member.loop;
        this.groups.get(opts.groupId)?.delete(member.id);
        this.rebalance(opts.groupId);
        if (!this.groups.get(opts.groupId)?.size) this.opts.metrics?.unassignGroup(opts.groupId);
      },
    };
  }

  /** A group's first subscription pins where it starts, as Kafka's auto.offset.reset does. */
  private initOffsets(opts: SubscribeOptions): void {
    const ins = this.db.prepare(
      'INSERT OR IGNORE INTO ev_offsets (group_id, topic, partition, offset) VALUES (?, ?, ?, ?)',
    );
    const end = this.db.prepare(END_OFFSET);
    this.db.transaction(() => {
      for (const topic of opts.topics)
        for (let p = 0; p < this.partitionsOf(topic); p++)
          ins.run(opts.groupId, topic, p, opts.fromBeginning ? 0 : (end.get(topic, p) as { n: number }).n);
    })();
  }

  private rebalanceAll(): void {
    for (const g of this.groups.keys()) this.rebalance(g);
  }

  private rebalance(groupId: string): void {
    const group = this.groups.get(groupId);
    if (!group || group.size === 0) return;
    const topics = new Set<string>();
    for (const m of group.values()) for (const t of m.opts.topics) topics.add(t);
    const plan = assignPartitions(
      [...group.keys()],
      [...topics].map((t) => ({ topic: t, partitions: this.partitionsOf(t) })),
    );
    for (const m of group.values())
      m.assignment = (plan.get(m.id) ?? []).filter((tp) => m.opts.topics.includes(tp.topic));
    // One process holds every member, so the lag series cover every partition of the group.
    for (const topic of topics)
      this.opts.metrics?.assign(
        groupId,
        topic,
        Array.from({ length: this.partitionsOf(topic) }, (_, p) => p),
      );
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private async run(m: Member): Promise<void> {
    const fetch = this.db.prepare(
      'SELECT offset, key, value, headers, ts FROM ev_records WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?',
    );
    const committed = this.db.prepare(
      'SELECT offset FROM ev_offsets WHERE group_id = ? AND topic = ? AND partition = ?',
    );
    const end = this.db.prepare(END_OFFSET);
    const commit = this.db.prepare(
      'INSERT INTO ev_offsets (group_id, topic, partition, offset) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (group_id, topic, partition) DO UPDATE SET offset = excluded.offset',
    );
    const groupId = m.opts.groupId;
    while (!m.stopped && !this.closed) {
      let worked = false;
      let nextRetry = Infinity;
      for (const tp of m.assignment) {
        if (m.stopped) break;
        const k = key(groupId, tp);
        if (this.busy.has(k)) continue;
        const retry = this.retryAt.get(k);
        if (retry && retry.at > Date.now()) {
          nextRetry = Math.min(nextRetry, retry.at);
          continue;
        }
        const from =
          (committed.get(groupId, tp.topic, tp.partition) as { offset: number } | undefined)?.offset ?? 0;
        const rows = fetch.all(tp.topic, tp.partition, from, m.opts.maxBatch ?? 500) as {
          offset: number;
          key: string;
          value: Buffer;
          headers: string;
          ts: number;
        }[];
        if (rows.length === 0) continue;
        worked = true;
        const batch: ConsumedRecord[] = rows.map((r) => ({
          topic: tp.topic,
          partition: tp.partition,
          offset: String(r.offset),
          key: r.key,
          value: r.value,
          headers: JSON.parse(r.headers) as Record<string, string>,
          timestamp: r.ts,
        }));
        this.busy.add(k);
        try {
          await m.opts.handler(batch);
          if (!this.closed) {
            const last = rows[rows.length - 1]!.offset;
            commit.run(groupId, tp.topic, tp.partition, last + 1);
            const { n } = end.get(tp.topic, tp.partition) as { n: number };
            this.opts.metrics?.handled(groupId, tp.topic, tp.partition, rows.length, String(last), String(n));
          }
          this.retryAt.delete(k);
        } catch (err) {
          const attempt = (retry?.attempt ?? -1) + 1;
          this.retryAt.set(k, {
            at: Date.now() + backoffDelay(attempt, { ...defaultBackoff, initialMs: 50 }),
            attempt,
          });
          this.opts.metrics?.handlerFailed(groupId, tp.topic);
          this.opts.onHandlerError?.(err, tp, groupId);
        } finally {
          this.busy.delete(k);
        }
      }
      if (!worked && !m.stopped) {
        await this.sleep(Number.isFinite(nextRetry) ? Math.max(1, nextRetry - Date.now()) : 1000);
      }
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    const out = new Map<number, bigint>();
    for (let p = 0; p < this.partitionsOf(topic); p++) out.set(p, -1n);
    const rows = this.db
      .prepare('SELECT partition, offset FROM ev_offsets WHERE group_id = ? AND topic = ?')
      .all(groupId, topic) as { partition: number; offset: number }[];
    for (const r of rows) out.set(r.partition, BigInt(r.offset));
    return out;
  }

  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const out = new Map<number, bigint>();
    const stmt = this.db.prepare(END_OFFSET);
    for (let p = 0; p < this.partitionsOf(topic); p++)
      out.set(p, BigInt((stmt.get(topic, p) as { n: number }).n));
    return out;
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('event log is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const members = [...this.groups.values()].flatMap((g) => [...g.values()]);
    for (const m of members) m.stopped = true;
    this.wake();
    await Promise.all(members.map((m) => m.loop));
    this.closed = true;
    this.groups.clear();
    if (this.ownsDb && this.db.open) this.db.close();
  }
}
