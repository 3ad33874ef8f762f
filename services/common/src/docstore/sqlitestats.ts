import type Database from 'better-sqlite3';
import client from 'prom-client';

/**
 * What the embedded SQLite file costs: statements run and commits made, counted for every handle
 * passed to instrumentSqlite (the document store's, which the embedded event log shares).
 * bench:cost divides them by messages; /metrics exports them.
 */
export const sqliteStats = {
  statements: 0,
  commits: 0,
  /** The writer's own copies of the log's rest (sqlitefile.ts, catchUp): count, seconds. */
  walCatchUps: 0,
  walCatchUpSeconds: 0,
  /** Frames in the write-ahead log at the checkpointer's last pass. */
  walFrames: 0,
};

const instrumented = new WeakSet<Database.Database>();
/** Each instrumented handle's own prepare, for statements that are bookkeeping, not work. */
const rawPrepares = new WeakMap<Database.Database, (sql: string) => Database.Statement>();

/**
 * Prepares `sql` on `db` without counting its runs: the group commit's savepoints, which
 * better-sqlite3's db.transaction() ran uncounted too, so statements per message stay comparable.
 */
export function prepareUncounted(db: Database.Database, sql: string): Database.Statement {
  return (rawPrepares.get(db) ?? db.prepare.bind(db))(sql);
}

/** Counts statements and commits on `db` (idempotent). A write outside a transaction is a commit. */
export function instrumentSqlite(db: Database.Database): void {
  if (instrumented.has(db)) return;
  instrumented.add(db);
  const prepare = db.prepare.bind(db);
  rawPrepares.set(db, prepare);
  db.prepare = ((sql: string) => {
    const stmt = prepare(sql);
    const reader = stmt.reader;
    for (const method of ['run', 'get', 'all', 'iterate'] as const) {
      const original = (stmt[method] as (...args: unknown[]) => unknown).bind(stmt);
      (stmt as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        sqliteStats.statements++;
        if (!reader && !db.inTransaction) sqliteStats.commits++;
        return original(...args);
      };
    }
    return stmt;
  }) as typeof db.prepare;
  const transaction = db.transaction.bind(db);
  db.transaction = ((fn: (...args: unknown[]) => unknown) => {
    const tx = transaction(fn);
    const counted = (...args: unknown[]) => {
      const outermost = !db.inTransaction;
      const result = tx(...args);
      if (outermost) sqliteStats.commits++;
      return result;
    };
    return Object.assign(counted, {
      deferred: tx.deferred,
      immediate: tx.immediate,
      exclusive: tx.exclusive,
    });
  }) as typeof db.transaction;
}

/** parley_sqlite_statements_total and parley_sqlite_commits_total on `registry`. */
export function registerSqliteMetrics(registry: client.Registry): void {
  new client.Counter({
    name: 'parley_sqlite_statements_total',
    help: 'SQLite statements run by this process (embedded mode; 0 with MongoDB and Kafka).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sqliteStats.statements);
    },
  });
  new client.Counter({
    name: 'parley_sqlite_commits_total',
    help: 'SQLite commits made by this process: transactions plus writes outside one (embedded mode).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sqliteStats.commits);
    },
  });
  new client.Counter({
    name: 'parley_sqlite_wal_catchups_total',
    help: 'Times the writer copied the rest of an overgrown write-ahead log itself, so that it could start over (embedded mode).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sqliteStats.walCatchUps);
    },
  });
  new client.Counter({
    name: 'parley_sqlite_wal_catchup_seconds_total',
    help: 'Time the writer spent in those copies, its event loop held (embedded mode).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sqliteStats.walCatchUpSeconds);
    },
  });
  new client.Gauge({
    name: 'parley_sqlite_wal_frames',
    help: 'Pages (4 KiB) in the write-ahead log at the last checkpoint pass; growth without bound means it never starts over (embedded mode).',
    registers: [registry],
    collect() {
      this.set(sqliteStats.walFrames);
    },
  });
}
