import { mkdirSync, realpathSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { groupCommitOf } from './groupcommit.ts';
import { instrumentSqlite, sqliteStats } from './sqlitestats.ts';

export interface SqliteFileOptions {
  /** File path, or ':memory:'. */
  path: string;
  /** Checkpoint the WAL from a worker thread (default true for files). */
  checkpointInThread?: boolean;
  /** Tests: ms between the thread's checkpoint passes (1000), and RESTART_FRAMES. */
  checkpointIntervalMs?: number;
  restartFrames?: number;
}

interface OpenFile {
  db: Database.Database;
  refs: number;
  checkpointer?: Worker;
}

/** Every file this process has open, by real path: one handle each (see GroupCommit). */
const files = new Map<string, OpenFile>();

function keyOf(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  // The directory exists now; the file may not yet.
  return join(realpathSync(dirname(path)), basename(path));
}

/**
 * Opens an embedded SQLite file, or shares the handle this process already has on it (the auth
 * and message services of one process, tests that run both): each `release()` gives one back, and
 * the last closes it. ':memory:' is always a new database.
 */
export function openSqliteFile(opts: SqliteFileOptions): { db: Database.Database; release(): Promise<void> } {
  if (opts.path === ':memory:') {
    const db = new Database(':memory:');
    instrumentSqlite(db);
    return {
      db,
      release: async () => {
        groupCommitOf(db).commit();
        if (db.open) db.close();
      },
    };
  }
  const key = keyOf(opts.path);
  let file = files.get(key);
  if (!file) {
    file = open(key, opts);
    files.set(key, file);
  }
  file.refs++;
  let released = false;
  const f = file;
  return {
    db: f.db,
    release: async () => {
      if (released) return;
      released = true;
      if (--f.refs > 0) return;
      files.delete(key);
      await close(f);
    },
  };
}

function open(path: string, opts: SqliteFileOptions): OpenFile {
  const db = new Database(path);
  instrumentSqlite(db);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  // The savepoints inside a group commit's transaction keep a statement journal, which past
  // 64 KiB (a few messages' pages) SQLite moves to a temporary file it opens, writes and closes
  // again at every commit: in memory instead, as are the temporary tables and sorts of the few
  // queries that need them (#19).
  db.pragma('temp_store = MEMORY');
  const file: OpenFile = { db, refs: 0 };
  // WAL with synchronous=NORMAL: a commit appends to the log without fsync; only a checkpoint
  // syncs. Those run in a worker thread, so the event loop never waits on the disk; should the
  // thread fail, the connection checkpoints itself again (SQLite's default, every 1000 pages).
  if (opts.checkpointInThread !== false) {
    db.pragma('wal_autocheckpoint = 0');
    db.pragma(`journal_size_limit = ${2 * RESTART_FRAMES * 4096}`); // 512 MiB: see RESTART_FRAMES
    const worker = new Worker(new URL('./checkpoint.worker.mjs', import.meta.url), {
      workerData: {
        path,
        intervalMs: opts.checkpointIntervalMs ?? 1000,
        restartFrames: opts.restartFrames ?? RESTART_FRAMES,
        convergeMs: CONVERGE_MS,
      },
    });
    worker.unref();
    const fallBack = () => {
      if (db.open) db.pragma('wal_autocheckpoint = 1000');
    };
    worker.on('error', fallBack);
    const restartFrames = opts.restartFrames ?? RESTART_FRAMES;
    worker.on('message', (m: CheckpointReport) => {
      if (m.error) return fallBack();
      catchUp(db, m, restartFrames, () => worker.postMessage('caught-up'));
    });
    worker.on('exit', (code) => code !== 0 && fallBack());
    file.checkpointer = worker;
  }
  return file;
}

interface CheckpointReport {
  error?: string;
  /** Frames in the log, and how many of them the pass copied into the database file. */
  log?: number;
  checkpointed?: number;
  /** How long the pass took, and when it began (Date.now()). */
  ms?: number;
  startedAt?: number;
}

/** Past RESTART_FRAMES, ms between the thread's passes (see checkpoint.worker.mjs). */
const CONVERGE_MS = 5;

/**
 * A pass at least this short leaves the writer little to copy: the writes of a few ms. Until
 * one is (or the log reaches twice RESTART_FRAMES), the writer leaves the copying to the thread.
 */
const SHORT_PASS_MS = 20;

/**
 * The log's size, in frames, past which the writer finishes a pass that fell behind: 256 MiB of
 * 4 KiB pages, about 4 s at 2,000 msg/s. Below journal_size_limit, so that SQLite never trims
 * the log at a restart: the blocks stay allocated and are written over, not allocated again.
 */
export const RESTART_FRAMES = 65_536;

/**
 * After a checkpoint pass in the thread: when the log has grown past RESTART_FRAMES, copies what
 * was written since the pass began on this connection, between two commits (the report's `log`
 * is the log as the pass found it, so it cannot tell whether more came meanwhile). SQLite starts
 * the log over (and trims it to journal_size_limit) only at a write that begins when every frame
 * is in the database file; with a commit every few ms a pass in another thread never gets there,
 * and the log grew without bound under steady load (1.2 GB in 25 s at 2,000 msg/s, #19), every
 * new block of it allocated, and the thread's fsync held up this thread's next write while it
 * allocated them.
 *
 * The rest is what was written during the pass. Past RESTART_FRAMES the thread's passes follow
 * each other CONVERGE_MS apart, each shorter than the last, and the writer waits for one that
 * took at most SHORT_PASS_MS: it then copies a few ms of writes, not a second's (18-23 ms,
 * two fsyncs included, against 34-38 ms when it took the rest of a normal pass, at 2,000 msg/s).
 * `done` tells the thread, whose next pass then waits its whole interval: a pass holding the log
 * when the writer's next write begins would keep the log from starting over.
 */
const caughtUpAt = new WeakMap<Database.Database, number>();

function catchUp(db: Database.Database, r: CheckpointReport, restartFrames: number, done: () => void): void {
  if (r.log !== undefined) sqliteStats.walFrames = r.log;
  if (!db.open || r.log === undefined || r.log < restartFrames) return;
  if ((r.ms ?? 0) > SHORT_PASS_MS && r.log < 2 * restartFrames) return;
  // A pass that began before the last catch-up reports a log that has started over since.
  if ((r.startedAt ?? Infinity) < (caughtUpAt.get(db) ?? 0)) return;
  const run = () => {
    if (!db.open || db.inTransaction) return;
    const started = performance.now();
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // The thread's next pass reports again (and its own failure falls back to autocheckpoint).
    }
    caughtUpAt.set(db, Date.now());
    done();
    sqliteStats.walCatchUps++;
    sqliteStats.walCatchUpSeconds += (performance.now() - started) / 1000;
  };
  if (!db.inTransaction) run();
  else groupCommitOf(db).atCommit(undefined, run);
}

async function close(file: OpenFile): Promise<void> {
  const { checkpointer, db } = file;
  // What this turn wrote is committed before the handle goes.
  groupCommitOf(db).commit();
  if (checkpointer) {
    const exited = new Promise((resolve) => checkpointer.once('exit', resolve));
    checkpointer.postMessage('stop');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }
  // The last connection to close checkpoints what is left and removes the log.
  if (db.open) db.close();
}
