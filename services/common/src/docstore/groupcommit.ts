import type Database from 'better-sqlite3';
import { prepareUncounted, sqliteStats } from './sqlitestats.ts';

/**
 * The least time between two commits, in ms. A write soon after a commit waits for the rest of
 * it, so under load several turns' writes share a commit (each costs the WAL frames of every page
 * it touched, about 180 µs at one message a commit), and a write on a quiet handle commits in its
 * own turn as before. It bounds what it adds to an acknowledgement (#19): a send waits for the
 * next commit (its batch is written just before it: worker/direct.ts), so the median at 2,000
 * msg/s is about 8 ms with 8, for 12% less CPU a message than with 4 (the pages a commit writes
 * are shared by more messages: 75 pages a commit at 4 ms, of which the conversations' indexes
 * and the event log's partitions repeat).
 */
export const COMMIT_SPACING_MS = 8;

/**
 * One commit per turn of the event loop for everything written on an embedded SQLite handle.
 *
 * A commit costs far more than the writes in it (the WAL frames of every page it touched, the
 * WAL index, FTS5's segment), and one message used to pay about six: the worker's insert, its
 * search terms, the conversation state, the event log's two appends and two consumers' offsets.
 * Here the first write of a turn opens a transaction and the check phase of the same loop
 * iteration commits it, so whatever the process writes meanwhile shares one commit; within
 * COMMIT_SPACING_MS of the last commit, the commit waits for the rest of that time instead.
 *
 * - Each write is atomic on its own (a savepoint, or for a single statement SQLite's own statement
 *   atomicity: writeOne): a write that throws leaves nothing behind.
 * - A write's result is returned at once, and every later read on the handle sees it. Work that
 *   tells the outside world a write happened waits for `committed()` first: the event log's
 *   appends resolve only after their commit (a send is acked, an event goes out, only once what
 *   led to it is on disk), and so do HTTP responses (see durableResponses in api.ts).
 * - Should a commit fail (disk full, I/O error), the turn's writes are rolled back, its waiters
 *   rejected and `onFailure` listeners told: the event log re-reads its offsets and watermarks
 *   (consumers redeliver what was lost), and the store reports itself down on /readyz.
 *
 * The handle must be this process's only one on the file (see openSqliteFile): a second handle
 * would wait for the open transaction's write lock on the very thread that is to commit it.
 */
export class GroupCommit {
  /** A commit is scheduled for the check phase of this loop iteration. */
  private scheduled = false;
  /** This group began the open transaction (else there is none, or a caller's own is open). */
  private began = false;
  private before: (() => void)[] = [];
  private after: ((err?: unknown) => void)[] = [];
  private readonly failureListeners: ((err: unknown) => void)[] = [];
  private readonly everyCommit: (() => void)[] = [];

  /** performance.now() of the last commit, and of the scheduled one. */
  private lastCommitAt = -Infinity;
  private dueAt = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly spacingMs = COMMIT_SPACING_MS,
  ) {}

  /** SAVEPOINT, RELEASE and ROLLBACK TO, prepared once for write(). */
  private savepoint:
    { save: Database.Statement; release: Database.Statement; undo: Database.Statement } | undefined;

  /**
   * Runs `fn` inside this turn's transaction, atomically (a savepoint), and returns its result.
   * The savepoint's statements are prepared once: db.transaction(fn) builds four wrapper
   * functions and their properties on every call, 3-4% of the embedded server's main thread at
   * 2,000 msg/s with three writes a message (#19).
   */
  write<T>(fn: () => T): T {
    this.enter();
    // A caller's own db.transaction is open: nest the way it does.
    if (!this.began) return this.db.transaction(fn)();
    const sp = (this.savepoint ??= {
      save: prepareUncounted(this.db, 'SAVEPOINT parley_write'),
      release: prepareUncounted(this.db, 'RELEASE parley_write'),
      undo: prepareUncounted(this.db, 'ROLLBACK TO parley_write'),
    });
    sp.save.run();
    let result: T;
    try {
      result = fn();
    } catch (err) {
      // SQLite may have rolled the whole transaction back itself (SQLITE_FULL, I/O): then there
      // is no savepoint left to undo, and the commit reports the failure.
      if (this.db.inTransaction) {
        sp.undo.run();
        sp.release.run();
      }
      throw err;
    }
    sp.release.run();
    return result;
  }

  /**
   * write() for an `fn` whose one write is a single statement, run last (after any reads and
   * checks): an insert, an update or a delete. SQLite makes a statement atomic on its own, so this
   * opens no savepoint, which would copy every page the statement touches into the transaction's
   * statement journal first (#19: the worker's state update, one a message).
   */
  writeOne<T>(fn: () => T): T {
    this.enter();
    return fn();
  }

  /** Opens this turn's transaction, unless a caller's own db.transaction is open (it commits). */
  private enter(): void {
    if (this.db.inTransaction && !this.began) return;
    // SQLite itself rolls a transaction back on some errors (SQLITE_FULL, I/O): fail its writes now.
    if (this.began && !this.db.inTransaction) this.commit();
    if (!this.began) {
      this.db.exec('BEGIN IMMEDIATE');
      this.began = true;
      this.schedule();
    }
  }

  /**
   * Runs `before` inside this turn's transaction just before it commits (the event log writes its
   * queued appends there), and `after` once it has, or with the error it failed with.
   */
  atCommit(before: (() => void) | undefined, after: (err?: unknown) => void): void {
    if (before) this.before.push(before);
    this.after.push(after);
    this.schedule();
  }

  /** Resolves once every write made so far is committed (at once when none is pending). */
  committed(): Promise<void> {
    if (!this.scheduled) return Promise.resolve();
    return new Promise((resolve, reject) => this.after.push((err) => (err ? reject(err) : resolve())));
  }

  /**
   * Runs `fn` inside every commit, before the turn's `before` hooks: writes that do not warrant a
   * commit of their own (consumers' offsets) ride whichever comes next.
   */
  beforeEveryCommit(fn: () => void): void {
    this.everyCommit.push(fn);
  }

  /** A commit is scheduled: something written now rides it. */
  get pending(): boolean {
    return this.scheduled;
  }

  /** Milliseconds until the scheduled commit (0: this turn), or undefined when none is. */
  get dueInMs(): number | undefined {
    return this.scheduled ? Math.max(0, this.dueAt - performance.now()) : undefined;
  }

  /** Calls `fn` when a commit fails (its writes are rolled back): caches built on them re-sync. */
  onFailure(fn: (err: unknown) => void): void {
    this.failureListeners.push(fn);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const now = performance.now();
    const wait = this.lastCommitAt + this.spacingMs - now;
    this.dueAt = now + Math.max(0, wait);
    if (wait > 0) setTimeout(() => this.commit(), wait);
    else setImmediate(() => this.commit());
  }

  /** Commits this turn's writes now (the scheduled commit then finds nothing to do). */
  commit(): void {
    if (!this.scheduled) return;
    this.scheduled = false;
    const { before, after } = this;
    this.before = [];
    this.after = [];
    let failure: unknown;
    try {
      if (this.began && !this.db.inTransaction) throw new Error('SQLite rolled back the open transaction');
      if (!this.db.open) throw new Error('SQLite handle is closed');
      if (!this.began) this.db.exec('BEGIN IMMEDIATE');
      this.began = true;
      for (const fn of this.everyCommit) fn();
      for (const fn of before) fn();
      this.db.exec('COMMIT');
      this.lastCommitAt = performance.now();
      sqliteStats.commits++;
    } catch (err) {
      failure = err;
      try {
        if (this.db.open && this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch {
        // The connection already rolled back (SQLite does on some I/O errors).
      }
    }
    this.began = false;
    for (const fn of after) fn(failure);
    if (failure !== undefined) for (const fn of this.failureListeners) fn(failure);
  }
}

const groups = new WeakMap<Database.Database, GroupCommit>();

/** The group commit of `db` (one per handle, shared by every adapter on it). */
export function groupCommitOf(db: Database.Database): GroupCommit {
  let g = groups.get(db);
  if (!g) groups.set(db, (g = new GroupCommit(db)));
  return g;
}
