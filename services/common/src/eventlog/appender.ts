import type Database from 'better-sqlite3';
import type { GroupCommit } from '../docstore/groupcommit.ts';
import { partitionFor, type ConsumedRecord, type LogRecord } from './port.ts';
import type { PartitionTail } from './tail.ts';

/** Appends waiting for the turn's commit. */
interface PendingAppend {
  topic: string;
  records: readonly LogRecord[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

type Appended = { p: PartitionTail; record: ConsumedRecord }[];

/** The longest a consumer's offset waits for a commit to ride before it gets one of its own. */
export const OFFSET_FLUSH_MS = 200;

export interface AppenderDeps {
  group: GroupCommit;
  insert: Database.Statement;
  commit: Database.Statement;
  partitionsOf(topic: string): number;
  partition(topic: string, partition: number): PartitionTail;
  /** Re-reads a partition's watermark from the file. */
  refresh(topic: string, partition: number): boolean;
  /** Committed offsets by group key, which commitOffset moves at once. */
  committed: Map<string, number>;
  /** Consumers of these topics have new records. */
  wake(topics: ReadonlySet<string>): void;
}

/**
 * The embedded event log's writes: appends and committed offsets queued during a turn of the
 * event loop are written inside that turn's transaction, just before it commits (GroupCommit);
 * once it has, the records join their partitions' tails, producers resolve and consumers wake.
 */
export class Appender {
  private pending: PendingAppend[] = [];
  /** Offsets handlers have committed this turn, one row per partition. */
  private readonly offsets = new Map<
    string,
    { groupId: string; topic: string; partition: number; offset: number }
  >();
  private scheduled = false;
  private offsetTimer: ReturnType<typeof setTimeout> | undefined;
  /** When offsets were last written. */
  private offsetsWrittenAt = -Infinity;

  constructor(private readonly d: AppenderDeps) {
    d.group.beforeEveryCommit(() => this.writeOffsets());
  }

  /** Queues an append; resolves once it is committed. */
  append(topic: string, records: readonly LogRecord[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ topic, records, resolve, reject });
      this.schedule();
    });
  }

  /**
   * A handler's batch is done: its offset counts now (in memory, for this process's consumers) and
   * is written within OFFSET_FLUSH_MS: with a commit of other writes, or with one of its own.
   * A commit only for offsets would cost as much as the writes it follows; a crash before it only
   * redelivers those batches, which consumers already take at least once (as Kafka's auto-commit).
   */
  commitOffset(key: string, groupId: string, tp: { topic: string; partition: number }, offset: number): void {
    this.d.committed.set(key, offset);
    this.offsets.set(key, { groupId, topic: tp.topic, partition: tp.partition, offset });
    this.offsetTimer ??= setTimeout(() => this.flushOffsets(), OFFSET_FLUSH_MS).unref();
  }

  /** Schedules a commit for the offsets held back (the timer's, or closing: the caller commits). */
  flushOffsets(): void {
    clearTimeout(this.offsetTimer);
    this.offsetTimer = undefined;
    if (this.offsets.size > 0)
      this.d.group.atCommit(
        () => this.writeOffsets(true),
        () => {},
      );
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    let written: { batch: PendingAppend[]; appended: Appended } | undefined;
    this.d.group.atCommit(
      () => (written = this.flush()),
      (err) => {
        if (written) return this.acknowledge(written.batch, written.appended, err);
        // The commit failed before this flush ran (another write of it threw): what is queued
        // was never written. Without this, those appends, and every later one, waited for ever.
        this.scheduled = false;
        const batch = this.pending;
        this.pending = [];
        for (const a of batch) a.reject(err ?? new Error('the commit ended before the appends were written'));
      },
    );
  }

  /** Inside the turn's transaction, just before it commits: every queued append and offset. */
  private flush(): { batch: PendingAppend[]; appended: Appended } {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return { batch, appended: [] };
    for (let attempt = 0; ; attempt++) {
      try {
        return { batch, appended: this.d.group.write(() => this.write(batch)) };
      } catch (err) {
        // Another process appended to the file meanwhile (a CLI on the embedded log): re-read the
        // watermarks and retry.
        const conflict = (err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT');
        if (!conflict || attempt >= 3) {
          for (const a of batch) a.reject(err);
          return { batch: [], appended: [] };
        }
        for (const a of batch)
          for (let p = 0; p < this.d.partitionsOf(a.topic); p++) this.d.refresh(a.topic, p);
      }
    }
  }

  /** After the commit: the records join their tails, producers resolve, consumers wake. */
  private acknowledge(batch: readonly PendingAppend[], appended: Appended, err: unknown): void {
    if (err !== undefined) {
      for (const a of batch) a.reject(err);
      return;
    }
    const topics = new Set<string>();
    for (const { p, record } of appended) {
      p.push(record);
      topics.add(record.topic);
    }
    for (const a of batch) a.resolve();
    this.d.wake(topics);
  }

  /** Writes the offsets held now (a subscription re-reads its group's offsets from the file). */
  writeHeldOffsets(): void {
    this.writeOffsets(true);
  }

  /**
   * Inside every commit: the offsets held, at most once per OFFSET_FLUSH_MS (else the timer's
   * commit takes them, with `force`). At a message per commit, every consumer group's offsets rode every one:
   * 2.75 upserts a message at 500 msg/s (bench:cost, statement counts per SQL).
   */
  private writeOffsets(force = false): void {
    if (this.offsets.size === 0) return;
    const now = performance.now();
    if (!force && now - this.offsetsWrittenAt < OFFSET_FLUSH_MS) return;
    this.offsetsWrittenAt = now;
    clearTimeout(this.offsetTimer);
    this.offsetTimer = undefined;
    const offsets = [...this.offsets.values()];
    this.offsets.clear();
    this.d.group.write(() => {
      for (const o of offsets) this.d.commit.run(o.groupId, o.topic, o.partition, o.offset);
    });
  }

  /** The turn's appends, in one savepoint; acknowledge() applies the offsets to memory. */
  private write(batch: readonly PendingAppend[]): Appended {
    const now = Date.now();
    const appended: Appended = [];
    const next = new Map<PartitionTail, number>();
    for (const a of batch) {
      const partitions = this.d.partitionsOf(a.topic);
      for (const r of a.records) {
        const partition = partitionFor(r.key, partitions);
        const p = this.d.partition(a.topic, partition);
        const offset = next.get(p) ?? p.end;
        next.set(p, offset + 1);
        const value = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
        const headers = r.headers ?? {};
        this.d.insert.run(a.topic, partition, offset, r.key, value, JSON.stringify(headers), now);
        const record = {
          topic: a.topic,
          partition,
          offset: String(offset),
          key: r.key,
          value,
          headers,
          timestamp: now,
        };
        appended.push({ p, record });
      }
    }
    return appended;
  }
}
