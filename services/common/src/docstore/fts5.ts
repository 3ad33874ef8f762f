import type Database from 'better-sqlite3';
import { groupCommitOf, type GroupCommit } from './groupcommit.ts';
import { checkName } from './port.ts';
import type { TextEntry, TextHit, TextIndex, TextRef } from './port.ts';

interface Queued {
  id: number;
  ref: string;
  scope: string;
  at: number;
  terms: string;
}

/** The refs table: unique by (at, ref), which arrive in about the order of `at` (see below). */
const REFS_COLUMNS =
  'id INTEGER PRIMARY KEY, ref TEXT NOT NULL, scope TEXT NOT NULL, at INTEGER NOT NULL, UNIQUE (at, ref)';

/** Queued entries are indexed at the latest this long after the first of them (ms). */
export const TEXT_FLUSH_MS = 250;
/**
 * ... or as soon as this many are queued. Small on purpose: a flush runs on the event loop, and one
 * of 512 entries held it 3-5 ms and made the next commit 1.5-3.5 ms longer, every 256 ms at 2,000
 * msg/s. The messages sent meanwhile waited behind it, and in a latency dump the slow ones came in
 * clusters 256 ms apart. 64 makes each pause an eighth as long and costs no more CPU (#19).
 */
export const TEXT_FLUSH_AT = 64;

/**
 * The SQLite text index: a contentless FTS5 table of each entry's terms (one row per entry, where
 * a term collection writes a row and its index entries per term), keyed by the rowid of a table of
 * refs that holds the scope and time. Terms arrive tokenized; FTS5's unicode61 tokenizer splits
 * them on the spaces that join them and leaves the letters and digits they are made of alone.
 *
 * `add` appends its entries to a queue table (in the caller's commit, so nothing is lost) and
 * they are indexed in bulk, within TEXT_FLUSH_MS or TEXT_FLUSH_AT entries: each FTS5 commit writes
 * a new segment, which at one message a commit was about a tenth of the embedded server's CPU
 * (#19). `find` and `remove` index the queue first, so a reader never misses an entry added before
 * it asked; a queue left by a crash is indexed on open.
 *
 * The refs are unique by (at, ref), not by ref: refs are message ids, random, so an index by ref
 * took a page of its own for nearly every entry (21 of the 101 pages a commit wrote at 2,000
 * msg/s), where entries arrive in about the order of `at` and share the index's last page (#19).
 */
export class Fts5TextIndex implements TextIndex {
  private readonly refs: string;
  private readonly fts: string;
  /** Entries this instance queued since its last flush, and the timer that flushes them. */
  private queuedCount = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  /** find() statements by the number of scopes they bind. */
  private readonly finds = new Map<number, Database.Statement>();
  private readonly group: GroupCommit;
  private readonly stmt: {
    ref: Database.Statement;
    row: Database.Statement;
    rowOf: Database.Statement;
    deleteRow: Database.Statement;
    deleteRef: Database.Statement;
    queue: Database.Statement;
    queued: Database.Statement;
    dequeue: Database.Statement;
  };

  constructor(
    private readonly db: Database.Database,
    name: string,
  ) {
    checkName('text index', name);
    this.group = groupCommitOf(db);
    const refs = (this.refs = `"x_${name}_refs"`);
    const fts = (this.fts = `"x_${name}"`);
    const queue = `"x_${name}_queue"`;
    this.relayout(name);
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${queue} (id INTEGER PRIMARY KEY, ref TEXT NOT NULL, scope TEXT NOT NULL, at INTEGER NOT NULL, terms TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS ${refs} (${REFS_COLUMNS});
      CREATE VIRTUAL TABLE IF NOT EXISTS ${fts} USING fts5(terms, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0');
    `);
    this.stmt = {
      ref: db.prepare(`INSERT OR IGNORE INTO ${refs} (ref, scope, at) VALUES (?, ?, ?)`),
      row: db.prepare(`INSERT INTO ${fts} (rowid, terms) VALUES (?, ?)`),
      rowOf: db.prepare(`SELECT id FROM ${refs} WHERE at = ? AND ref = ?`),
      deleteRow: db.prepare(`DELETE FROM ${fts} WHERE rowid = ?`),
      deleteRef: db.prepare(`DELETE FROM ${refs} WHERE id = ?`),
      queue: db.prepare(`INSERT INTO ${queue} (ref, scope, at, terms) VALUES (?, ?, ?, ?)`),
      queued: db.prepare(`SELECT id, ref, scope, at, terms FROM ${queue} ORDER BY id`),
      dequeue: db.prepare(`DELETE FROM ${queue} WHERE id <= ?`),
    };
    this.migrate(name);
    this.flush();
  }

  /**
   * Refs unique by ref alone (the layout before 2026-12) are copied, ids and all, into the layout
   * unique by (at, ref), in one transaction: FTS5 rows keep pointing at the same ids.
   */
  private relayout(name: string): void {
    const refs = `x_${name}_refs`;
    const row = this.db
      .prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?")
      .get(refs) as { sql: string } | undefined;
    if (!row || !/\bref TEXT NOT NULL UNIQUE\b/.test(row.sql)) return;
    this.db.transaction(() => {
      this.db.exec(`
        CREATE TABLE "${refs}_new" (${REFS_COLUMNS});
        INSERT INTO "${refs}_new" (id, ref, scope, at) SELECT id, ref, scope, at FROM "${refs}" ORDER BY id;
        DROP TABLE "${refs}";
        ALTER TABLE "${refs}_new" RENAME TO "${refs}";
      `);
    })();
  }

  /**
   * Before FTS5, the embedded store kept one document per (term, message) in the collection of
   * the same name (CollectionTextIndex's layout): those entries move here, once.
   */
  private migrate(name: string): void {
    const old = `"c_${name}"`;
    const exists = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
      .get(`c_${name}`);
    if (!exists) return;
    const rows = this.db
      .prepare(
        `SELECT json_extract(doc, '$.messageId') AS ref, json_extract(doc, '$.conversationId') AS scope, ` +
          `max(json_extract(doc, '$.at')) AS at, group_concat(json_extract(doc, '$.term'), ' ') AS terms ` +
          `FROM ${old} GROUP BY 1, 2`,
      )
      .all() as { ref: string; scope: string; at: number; terms: string }[];
    this.db.transaction(() => {
      for (const r of rows) {
        const ins = this.stmt.ref.run(r.ref, r.scope, r.at);
        if (ins.changes) this.stmt.row.run(ins.lastInsertRowid, r.terms);
      }
      this.db.exec(`DROP TABLE ${old}`);
    })();
  }

  async add(entries: readonly TextEntry[]): Promise<void> {
    if (entries.length === 0) return;
    this.group.write(() => {
      for (const e of entries) this.stmt.queue.run(e.ref, e.scope, e.at, e.terms.join(' '));
    });
    this.queuedCount += entries.length;
    if (this.queuedCount >= TEXT_FLUSH_AT) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flushQueued(), TEXT_FLUSH_MS).unref();
  }

  /** Indexes the queued entries (whoever queued them) and empties the queue, in one write. */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.queuedCount = 0;
    // Read first: an empty queue (most finds) opens no write transaction.
    const rows = this.stmt.queued.all() as Queued[];
    if (rows.length === 0) return;
    this.group.write(() => {
      for (const e of rows) {
        const r = this.stmt.ref.run(e.ref, e.scope, e.at);
        if (r.changes === 0) continue;
        this.stmt.row.run(r.lastInsertRowid, e.terms);
      }
      this.stmt.dequeue.run(rows.at(-1)!.id);
    });
  }

  /** The timer's flush: the queue stays (durable) when the handle has closed or the write fails. */
  private flushQueued(): void {
    this.flushTimer = undefined;
    if (!this.db.open) return;
    try {
      this.flush();
    } catch {
      // Left queued: the next add, find, remove or open indexes it.
      this.flushTimer = setTimeout(() => this.flushQueued(), TEXT_FLUSH_MS).unref();
    }
  }

  async remove(entries: readonly TextRef[]): Promise<void> {
    if (entries.length === 0) return;
    this.flush();
    this.group.write(() => {
      for (const e of entries) {
        const row = this.stmt.rowOf.get(e.at, e.ref) as { id: number } | undefined;
        if (!row) continue;
        this.stmt.deleteRow.run(row.id);
        this.stmt.deleteRef.run(row.id);
      }
    });
  }

  async find(term: string, scopes: readonly string[], limit: number): Promise<TextHit[]> {
    if (scopes.length === 0 || term.length === 0) return [];
    this.flush();
    // A quoted FTS5 string is one term, whatever it holds ("" escapes a quote).
    const match = `"${term.replace(/"/g, '""')}"`;
    let stmt = this.finds.get(scopes.length);
    if (!stmt) {
      stmt = this.db.prepare(
        `SELECT r.ref AS ref, r.at AS at FROM ${this.fts} f JOIN ${this.refs} r ON r.id = f.rowid ` +
          `WHERE f.terms MATCH ? AND r.scope IN (${scopes.map(() => '?').join(',')}) LIMIT ?`,
      );
      if (this.finds.size < 64) this.finds.set(scopes.length, stmt);
    }
    const rows = stmt.all(match, ...scopes, limit) as { ref: string; at: number }[];
    return rows.map((r) => ({ ref: r.ref, term, at: r.at }));
  }
}
