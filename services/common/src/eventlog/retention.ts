import { setImmediate as turn } from 'node:timers/promises';
import type Database from 'better-sqlite3';
import type { GroupCommit } from '../docstore/groupcommit.ts';

/** How often the embedded log looks for records past their retention (ms). */
export const RETENTION_INTERVAL_MS = 60_000;
/**
 * Records removed in one statement, at most: each holds the event loop a few ms, and a pass comes
 * back a second later while a backlog lasts (a file that grew before it had retention, or a
 * process that was down longer than the retention).
 */
export const RETENTION_CHUNK = 500;
const BACKLOG_PAUSE_MS = 1_000;
/** Chunks one pass removes at most (10,000 records), before it pauses BACKLOG_PAUSE_MS. */
const PASS_CHUNKS = 20;

export interface RetentionOptions {
  /** Records older than this (by their append time) are removed; Kafka's retention.ms. */
  retentionMs: number;
  /** Each topic's partition count. */
  topics: () => ReadonlyMap<string, number>;
  now?: () => number;
  chunk?: number;
  /** Between passes (ms); RETENTION_INTERVAL_MS unless a test says otherwise. */
  intervalMs?: number;
}

/**
 * Retention for the embedded event log, as a Kafka topic's retention.ms: records appended longer
 * ago than the retention are removed from the head of each partition, whether or not every group
 * has read them (a group that far behind goes on from the oldest record kept, as Kafka's
 * `earliest` reset would have it). Without it the file kept every event ever appended.
 *
 * - Each partition keeps its last record, whatever its age: the log reads a partition's next
 *   offset from it (END_OFFSET), so offsets never restart below what consumers committed.
 * - Only a head of expired records goes: the first record appended within the retention stops the
 *   removal, so a clock that stepped back leaves records for a later pass instead of making a gap.
 * - Records go oldest first in the order they were appended (rowid), whatever their partition:
 *   appends of all partitions interleave on the table's pages, and removing one partition's 500
 *   oldest touched about 1,200 of them (a 30 ms commit), against about 40 in append order. A file
 *   whose records are clustered by key (before the rowid layout) is trimmed a partition at a time,
 *   which is contiguous there.
 * - Each removal is one statement in the turn's group commit (atomic on its own), a chunk at a
 *   time, a turn of the event loop apart.
 */
export class Retention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** The statements of the table's layout: rowid (append order), or clustered by key. */
  private readonly stmt:
    | { rowid: true; oldest: Database.Statement; last: Database.Statement; dropRows: Database.Statement }
    | {
        rowid: false;
        first: Database.Statement;
        head: Database.Statement;
        last: Database.Statement;
        drop: Database.Statement;
      };

  constructor(
    private readonly db: Database.Database,
    private readonly group: GroupCommit,
    private readonly opts: RetentionOptions,
  ) {
    const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'ev_records'").pluck().get() as string;
    const where = 'WHERE topic = ? AND partition = ?';
    const last = db.prepare(`SELECT max(offset) AS last FROM ev_records ${where}`);
    this.stmt = /WITHOUT\s+ROWID/i.test(sql)
      ? {
          rowid: false,
          first: db.prepare(`SELECT ts FROM ev_records ${where} ORDER BY offset LIMIT 1`),
          head: db.prepare(`SELECT offset, ts FROM ev_records ${where} ORDER BY offset LIMIT ?`),
          last,
          drop: db.prepare(`DELETE FROM ev_records ${where} AND offset < ?`),
        }
      : {
          rowid: true,
          oldest: db.prepare(
            'SELECT rowid AS id, topic, partition, offset, ts FROM ev_records ORDER BY rowid LIMIT ?',
          ),
          last,
          dropRows: db.prepare(
            'DELETE FROM ev_records WHERE rowid <= ? AND rowid NOT IN (SELECT value FROM json_each(?))',
          ),
        };
  }

  start(): void {
    this.schedule(this.interval);
  }

  private get interval(): number {
    return this.opts.intervalMs ?? RETENTION_INTERVAL_MS;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      // A shared handle closed before the log: nothing to trim, ever again (no retry a minute).
      if (!this.db.open) return void (this.stopped = true);
      this.running = this.pass()
        .then(({ more }) => this.schedule(more ? Math.min(BACKLOG_PAUSE_MS, this.interval) : this.interval))
        .catch(() => this.schedule(this.interval));
    }, ms).unref();
  }

  /**
   * One pass: up to PASS_CHUNKS chunks, a turn of the event loop apart. Returns the records
   * removed, and whether more were expired than the pass removed.
   */
  async pass(): Promise<{ removed: number; more: boolean }> {
    const chunk = this.opts.chunk ?? RETENTION_CHUNK;
    const cutoff = (this.opts.now?.() ?? Date.now()) - this.opts.retentionMs;
    let removed = 0;
    const stmt = this.stmt;
    if (stmt.rowid) {
      for (let i = 0; i < PASS_CHUNKS; i++) {
        if (this.stopped) return { removed, more: false };
        const { n, full } = this.expireOldest(stmt, cutoff, chunk);
        removed += n;
        if (!full) return { removed, more: false };
        await turn();
      }
      return { removed, more: true };
    }
    let more = false;
    for (const [topic, partitions] of this.opts.topics()) {
      for (let p = 0; p < partitions; p++) {
        if (this.stopped) return { removed, more: false };
        const n = this.expirePartition(stmt, topic, p, cutoff, chunk);
        removed += n;
        if (n === chunk) more = true;
        await turn();
      }
    }
    return { removed, more };
  }

  /** The oldest `chunk` records in append order: those expired, up to the first that is not. */
  private expireOldest(
    stmt: Extract<Retention['stmt'], { rowid: true }>,
    cutoff: number,
    chunk: number,
  ): { n: number; full: boolean } {
    const rows = stmt.oldest.all(chunk) as {
      id: number;
      topic: string;
      partition: number;
      offset: number;
      ts: number;
    }[];
    const lasts = new Map<string, number>();
    const kept: number[] = [];
    let upTo = -1;
    let candidates = 0;
    for (const r of rows) {
      if (r.ts >= cutoff) break;
      const k = `${r.topic}\u0000${r.partition}`;
      let last = lasts.get(k);
      if (last === undefined) {
        last = (stmt.last.get(r.topic, r.partition) as { last: number }).last;
        lasts.set(k, last);
      }
      if (r.offset >= last) kept.push(r.id);
      else candidates++;
      upTo = r.id;
    }
    const full = rows.length === chunk && upTo === rows.at(-1)!.id && candidates > 0;
    if (candidates === 0) return { n: 0, full: false };
    const n = this.group.writeOne(() => stmt.dropRows.run(upTo, JSON.stringify(kept)).changes);
    return { n, full };
  }

  /** The clustered layout: a partition's expired head, in one statement. */
  private expirePartition(
    stmt: Extract<Retention['stmt'], { rowid: false }>,
    topic: string,
    partition: number,
    cutoff: number,
    chunk: number,
  ): number {
    // The common case, nothing expired: one row read.
    const first = stmt.first.get(topic, partition) as { ts: number } | undefined;
    if (!first || first.ts >= cutoff) return 0;
    const { last } = stmt.last.get(topic, partition) as { last: number };
    let upTo = -1;
    for (const r of stmt.head.all(topic, partition, chunk) as { offset: number; ts: number }[]) {
      if (r.ts >= cutoff || r.offset >= last) break;
      upTo = r.offset + 1;
    }
    if (upTo < 0) return 0;
    return this.group.writeOne(() => stmt.drop.run(topic, partition, upTo).changes);
  }
}
