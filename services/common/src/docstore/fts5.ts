import type Database from 'better-sqlite3';
import { groupCommitOf, type GroupCommit } from './groupcommit.ts';
import { checkName } from './port.ts';
import type { TextEntry, TextHit, TextIndex } from './port.ts';

/**
 * The SQLite text index: a contentless FTS5 table of each entry's terms (one row per entry, where
 * a term collection writes a row and its index entries per term), keyed by the rowid of a table of
 * refs that holds the scope and time. Terms arrive tokenized; FTS5's unicode61 tokenizer splits
 * them on the spaces that join them and leaves the letters and digits they are made of alone.
 */
export class Fts5TextIndex implements TextIndex {
  private readonly refs: string;
  private readonly fts: string;
  /** find() statements by the number of scopes they bind. */
  private readonly finds = new Map<number, Database.Statement>();
  private readonly group: GroupCommit;
  private readonly stmt: {
    ref: Database.Statement;
    row: Database.Statement;
    rowOf: Database.Statement;
    deleteRow: Database.Statement;
    deleteRef: Database.Statement;
  };

  constructor(
    private readonly db: Database.Database,
    name: string,
  ) {
    checkName('text index', name);
    this.group = groupCommitOf(db);
    const refs = (this.refs = `"x_${name}_refs"`);
    const fts = (this.fts = `"x_${name}"`);
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${refs} (id INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, scope TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE VIRTUAL TABLE IF NOT EXISTS ${fts} USING fts5(terms, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0');
    `);
    this.stmt = {
      ref: db.prepare(`INSERT OR IGNORE INTO ${refs} (ref, scope, at) VALUES (?, ?, ?)`),
      row: db.prepare(`INSERT INTO ${fts} (rowid, terms) VALUES (?, ?)`),
      rowOf: db.prepare(`SELECT id FROM ${refs} WHERE ref = ?`),
      deleteRow: db.prepare(`DELETE FROM ${fts} WHERE rowid = ?`),
      deleteRef: db.prepare(`DELETE FROM ${refs} WHERE id = ?`),
    };
    this.migrate(name);
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
      for (const e of entries) {
        const r = this.stmt.ref.run(e.ref, e.scope, e.at);
        if (r.changes === 0) continue;
        this.stmt.row.run(r.lastInsertRowid, e.terms.join(' '));
      }
    });
  }

  async remove(refs: readonly string[]): Promise<void> {
    if (refs.length === 0) return;
    this.group.write(() => {
      for (const ref of refs) {
        const row = this.stmt.rowOf.get(ref) as { id: number } | undefined;
        if (!row) continue;
        this.stmt.deleteRow.run(row.id);
        this.stmt.deleteRef.run(row.id);
      }
    });
  }

  async find(term: string, scopes: readonly string[], limit: number): Promise<TextHit[]> {
    if (scopes.length === 0 || term.length === 0) return [];
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
