import type Database from 'better-sqlite3';
import {
  applyUpdate,
  checkFindOptions,
  checkIds,
  checkName,
  checkPath,
  checkUpdate,
  DuplicateKeyError,
  InvalidQueryError,
  normalizeFilter,
  upsertSeed,
  type Collection,
  type Doc,
  type DocumentStore,
  type Filter,
  type FindOptions,
  type IndexSpec,
  type Scalar,
  type TextIndex,
  type Update,
  type UpdateOp,
} from './port.ts';
import { Fts5TextIndex } from './fts5.ts';
import { groupCommitOf, type GroupCommit } from './groupcommit.ts';
import { openSqliteFile, type SqliteFileOptions } from './sqlitefile.ts';

type Param = string | number | null;

function bind(v: Scalar): Param {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

function jsonPath(path: string): string {
  // Paths are validated identifiers, so quoting each segment keeps them literal.
  return (
    '$.' +
    checkPath(path)
      .split('.')
      .map((k) => `"${k}"`)
      .join('.')
  );
}

function extract(path: string): string {
  return `json_extract(doc, '${jsonPath(path)}')`;
}

/** A blob no JSON value equals, and greater than any of them (SQLite orders NULL < numbers < text < blobs). */
const MISSING = "x'00'";

/**
 * Translates a port filter to a WHERE clause with bound parameters. Paths in `coalesced` are
 * indexed as `coalesce(json_extract(…), x'00')` (unique indexes, see collection()): comparisons
 * that can never match a missing field are written on that same expression, so SQLite can use the
 * index; `nonNull` lists the paths the clause requires to be present, for orderBy.
 */
export function toWhere(
  filter: Filter,
  coalesced: ReadonlySet<string> = new Set(),
): { sql: string; params: Param[]; nonNull: Set<string> } {
  const parts: string[] = [];
  const params: Param[] = [];
  const nonNull = new Set<string>();
  for (const [path, c] of normalizeFilter(filter)) {
    const bare = path === '_id' ? 'id' : extract(path);
    const indexed = coalesced.has(path) ? `coalesce(${bare}, ${MISSING})` : bare;
    const v = c.value as Scalar;
    switch (c.op) {
      case 'eq':
        if (v === null) parts.push(`${bare} IS NULL`);
        else {
          parts.push(`${indexed} = ?`);
          params.push(bind(v));
          nonNull.add(path);
        }
        break;
      case 'ne':
        parts.push(`${bare} IS NOT ?`);
        params.push(bind(v));
        break;
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte': {
        parts.push(`${indexed} ${{ gt: '>', gte: '>=', lt: '<', lte: '<=' }[c.op]} ?`);
        params.push(bind(v));
        // A missing field coalesces to the blob, above every value: bound it out of > and >=.
        if (indexed !== bare && (c.op === 'gt' || c.op === 'gte')) parts.push(`${indexed} < ${MISSING}`);
        nonNull.add(path);
        break;
      }
      case 'in':
      case 'nin': {
        const vals = c.value as readonly Scalar[];
        if (vals.length === 0) {
          parts.push(c.op === 'in' ? '0' : '1');
          break;
        }
        const nonNullVals = vals.filter((x) => x !== null);
        const hasNull = nonNullVals.length !== vals.length;
        const col = c.op === 'in' && !hasNull ? indexed : bare;
        const inList = nonNullVals.length ? `${col} IN (${nonNullVals.map(() => '?').join(',')})` : '0';
        const expr = hasNull ? `(${inList} OR ${col} IS NULL)` : inList;
        // NOT IN must also match missing fields, as MongoDB's $nin does.
        parts.push(c.op === 'in' ? expr : `NOT coalesce(${expr}, 0)`);
        params.push(...nonNullVals.map(bind));
        if (c.op === 'in' && !hasNull) nonNull.add(path);
        break;
      }
      case 'exists':
        parts.push(`json_type(doc, '${jsonPath(path)}') IS ${c.value ? 'NOT ' : ''}NULL`);
        break;
      case 'has':
        parts.push(
          `(json_type(doc, '${jsonPath(path)}') = 'array' AND EXISTS (SELECT 1 FROM json_each(doc, '${jsonPath(path)}') WHERE value ${v === null ? 'IS NULL' : '= ?'}))`,
        );
        if (v !== null) params.push(bind(v));
        break;
    }
  }
  return { sql: parts.length ? parts.join(' AND ') : '1', params, nonNull };
}

/**
 * ORDER BY/LIMIT/OFFSET. A sort path the filter keeps present is sorted on its coalesced (indexed)
 * expression, which orders present values as the bare one does; elsewhere a missing field must
 * sort first, as MongoDB sorts null/missing first.
 */
function orderBy(
  opts?: FindOptions,
  coalesced: ReadonlySet<string> = new Set(),
  nonNull: ReadonlySet<string> = new Set(),
  uniqueKeys: readonly (readonly string[])[] = [],
  filter: Filter = {},
): string {
  checkFindOptions(opts);
  const sort = opts?.sort ?? [];
  const terms = sort.map(([f, d]) => {
    const bare = f === '_id' ? 'id' : extract(f);
    const col = coalesced.has(f) && nonNull.has(f) ? `coalesce(${bare}, ${MISSING})` : bare;
    return `${col} ${d === 1 ? 'ASC' : 'DESC'}`;
  });
  // A stable tiebreak, as MongoDB's natural order is not guaranteed either; in the last key's
  // direction, so an index scan in that direction yields it without a sort (non-unique indexes
  // end in id: see collection()). An order on every field of a unique index has no ties to break.
  // Fields the filter fixes to one value take no part in the order.
  const sorted = new Set(sort.map(([f]) => f));
  for (const [f, v] of Object.entries(filter)) if (typeof v !== 'object' && v !== undefined) sorted.add(f);
  if (!sorted.has('_id') && !uniqueKeys.some((k) => k.every((f) => sorted.has(f))))
    terms.push(`id ${sort.at(-1)?.[1] === -1 ? 'DESC' : 'ASC'}`);
  let sql = terms.length ? ` ORDER BY ${terms.join(', ')}` : '';
  if (opts?.limit) sql += ` LIMIT ${opts.limit}`;
  else if (opts?.skip) sql += ' LIMIT -1';
  if (opts?.skip) sql += ` OFFSET ${opts.skip}`;
  return sql;
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT_') ?? false;
}

/** Prepared statements kept per collection; SQL with inlined limits varies, so the cache is bounded. */
const MAX_STATEMENTS = 128;

export class SqliteCollection<T extends Doc> implements Collection<T> {
  private readonly table: string;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly group: GroupCommit;

  constructor(
    private readonly db: Database.Database,
    readonly name: string,
    /** Paths indexed as coalesce(json_extract(…), x'00'): see toWhere. */
    private readonly coalesced: ReadonlySet<string>,
    /** The fields of each unique index that holds every document (not sparse): see orderBy. */
    private readonly uniqueKeys: readonly (readonly string[])[] = [],
  ) {
    this.table = `"c_${name}"`;
    this.group = groupCommitOf(db);
  }

  /** Compiling SQL costs more than running a point query: each distinct statement is prepared once. */
  private prepare(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (stmt) return stmt;
    stmt = this.db.prepare(sql);
    if (this.statements.size >= MAX_STATEMENTS) this.statements.delete(this.statements.keys().next().value!);
    this.statements.set(sql, stmt);
    return stmt;
  }

  private indexName(err: unknown): string {
    const m = /UNIQUE constraint failed: (.*)$/.exec((err as Error).message);
    return m?.[1] ?? 'unique';
  }

  async insertOne(doc: T): Promise<void> {
    if (typeof doc._id !== 'string' || doc._id.length === 0)
      throw new InvalidQueryError('_id must be a non-empty string');
    const stmt = this.prepare(`INSERT INTO ${this.table} (id, doc) VALUES (?, ?)`);
    try {
      const json = JSON.stringify(doc);
      this.group.writeOne(() => stmt.run(doc._id, json));
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateKeyError(this.name, this.indexName(err));
      throw err;
    }
  }

  async insertMany(docs: readonly T[]): Promise<{ inserted: number; duplicates: number }> {
    checkIds(docs);
    const stmt = this.prepare(`INSERT INTO ${this.table} (id, doc) VALUES (?, ?)`);
    let inserted = 0;
    let duplicates = 0;
    this.group.write(() => {
      for (const d of docs) {
        try {
          stmt.run(d._id, JSON.stringify(d));
          inserted++;
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          duplicates++;
        }
      }
    });
    return { inserted, duplicates };
  }

  async insertOrdered(docs: readonly T[]): Promise<number> {
    checkIds(docs);
    const stmt = this.prepare(`INSERT INTO ${this.table} (id, doc) VALUES (?, ?)`);
    return this.group.write(() => {
      let inserted = 0;
      for (const d of docs) {
        try {
          stmt.run(d._id, JSON.stringify(d));
        } catch (err) {
          if (isUniqueViolation(err)) break;
          throw err;
        }
        inserted++;
      }
      return inserted;
    });
  }

  /** SQLite's plan for a find (EXPLAIN QUERY PLAN details), for tests that prove an index is used. */
  explainFind(filter: Filter, opts?: FindOptions): string[] {
    const w = toWhere(filter, this.coalesced);
    const rows = this.db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT doc FROM ${this.table} WHERE ${w.sql}${orderBy(opts, this.coalesced, w.nonNull, this.uniqueKeys, filter)}`,
      )
      .all(...w.params) as { detail: string }[];
    return rows.map((r) => r.detail);
  }

  async findById(id: string): Promise<T | null> {
    const row = this.prepare(`SELECT doc FROM ${this.table} WHERE id = ?`).get(id) as
      { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as T) : null;
  }

  async findOne(filter: Filter, opts?: FindOptions): Promise<T | null> {
    const [first] = await this.find(filter, { ...opts, limit: 1 });
    return first ?? null;
  }

  async find(filter: Filter, opts?: FindOptions): Promise<T[]> {
    const w = toWhere(filter, this.coalesced);
    const rows = this.prepare(
      `SELECT doc FROM ${this.table} WHERE ${w.sql}${orderBy(opts, this.coalesced, w.nonNull, this.uniqueKeys, filter)}`,
    ).all(...w.params) as {
      doc: string;
    }[];
    return rows.map((r) => JSON.parse(r.doc) as T);
  }

  async count(filter: Filter): Promise<number> {
    const w = toWhere(filter, this.coalesced);
    const row = this.prepare(`SELECT count(*) AS n FROM ${this.table} WHERE ${w.sql}`).get(...w.params) as {
      n: number;
    };
    return row.n;
  }

  async updateOne(filter: Filter, update: Update, opts?: { upsert?: boolean }): Promise<T | null> {
    checkUpdate(update);
    const w = toWhere(filter, this.coalesced);
    const tx = (): T | null => {
      const row = this.prepare(`SELECT id, doc FROM ${this.table} WHERE ${w.sql} ORDER BY id LIMIT 1`).get(
        ...w.params,
      ) as { id: string; doc: string } | undefined;
      if (!row) {
        if (!opts?.upsert) return null;
        const doc = upsertSeed(filter);
        applyUpdate(doc, update, true);
        this.prepare(`INSERT INTO ${this.table} (id, doc) VALUES (?, ?)`).run(
          doc._id as string,
          JSON.stringify(doc),
        );
        return doc as T;
      }
      const doc = JSON.parse(row.doc) as Record<string, unknown>;
      applyUpdate(doc, update, false);
      this.prepare(`UPDATE ${this.table} SET doc = ? WHERE id = ?`).run(JSON.stringify(doc), row.id);
      return doc as T;
    };
    try {
      return this.group.writeOne(tx);
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateKeyError(this.name, this.indexName(err));
      throw err;
    }
  }

  async updateEach(ops: readonly UpdateOp[]): Promise<void> {
    let first: unknown;
    for (const o of ops)
      await this.updateOne(o.filter, o.update, o.upsert ? { upsert: true } : {}).catch((e: unknown) => {
        first ??= e;
      });
    if (first !== undefined) throw first;
  }

  async updateMany(filter: Filter, update: Update): Promise<number> {
    checkUpdate(update);
    const w = toWhere(filter, this.coalesced);
    const tx = (): number => {
      const rows = this.prepare(`SELECT id, doc FROM ${this.table} WHERE ${w.sql}`).all(...w.params) as {
        id: string;
        doc: string;
      }[];
      const stmt = this.prepare(`UPDATE ${this.table} SET doc = ? WHERE id = ?`);
      for (const row of rows) {
        const doc = JSON.parse(row.doc) as Record<string, unknown>;
        applyUpdate(doc, update, false);
        stmt.run(JSON.stringify(doc), row.id);
      }
      return rows.length;
    };
    try {
      return this.group.write(tx);
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateKeyError(this.name, this.indexName(err));
      throw err;
    }
  }

  async deleteMany(filter: Filter): Promise<number> {
    const w = toWhere(filter, this.coalesced);
    const stmt = this.prepare(`DELETE FROM ${this.table} WHERE ${w.sql}`);
    return this.group.writeOne(() => stmt.run(...w.params).changes);
  }
}

export type SqliteStoreOptions = SqliteFileOptions;

/**
 * The embedded document store: one SQLite file, a table per collection, JSON documents, expression
 * indexes. Writes share one commit per turn of the event loop with everything else written on the
 * file (see GroupCommit); `durable()` waits for it.
 */
export class SqliteDocumentStore implements DocumentStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly release: () => Promise<void>;

  constructor(opts: SqliteStoreOptions) {
    const file = openSqliteFile(opts);
    this.db = file.db;
    this.release = file.release;
  }

  /** The underlying handle, for other embedded adapters that share the file. */
  get handle(): Database.Database {
    return this.db;
  }

  durable(): Promise<void> {
    return groupCommitOf(this.db).committed();
  }

  async collection<T extends Doc>(name: string, indexes: readonly IndexSpec[] = []): Promise<Collection<T>> {
    checkName('collection', name);
    // A rowid table, as MongoDB lays a collection out: documents are appended in insertion order
    // and `id` has an index of its own. Clustered by id (WITHOUT ROWID, before 2026-12), every
    // insert of a random id (a message's is a hash) split a random page of whole documents: 40 µs
    // an insert and rising as the table grew, 24 µs this way (#19). A file made before keeps its
    // tables; the statements are the same for both.
    this.db.exec(`CREATE TABLE IF NOT EXISTS "c_${name}" (id TEXT PRIMARY KEY NOT NULL, doc TEXT NOT NULL)`);
    const coalesced = new Set<string>();
    const uniqueKeys: string[][] = [];
    for (const ix of indexes) {
      checkName('index', ix.name);
      if (ix.fields.length === 0) throw new InvalidQueryError(`index ${ix.name} has no fields`);
      // MongoDB indexes a missing field as null, so two documents without it collide in a unique
      // index; SQLite's NULLs never collide. Coalescing to a blob no JSON value equals keeps the
      // MongoDB rule; sparse indexes keep SQLite's.
      const cols = ix.fields.map(([f, d]) => {
        const e = f === '_id' ? 'id' : extract(f);
        const col = ix.unique && !ix.sparse && f !== '_id' ? `coalesce(${e}, ${MISSING})` : e;
        if (col !== e) coalesced.add(f);
        return `${col} ${d === 1 ? 'ASC' : 'DESC'}`;
      });
      if (ix.unique && !ix.sparse) uniqueKeys.push(ix.fields.map(([f]) => f));
      // The sorts' tiebreak (orderBy), which a table clustered by id added to every index itself.
      if (!ix.unique && !ix.fields.some(([f]) => f === '_id'))
        cols.push(`id ${ix.fields.at(-1)![1] === 1 ? 'ASC' : 'DESC'}`);
      const where = ix.sparse ? ` WHERE ${extract(ix.fields[0]![0])} IS NOT NULL` : '';
      this.db.exec(
        `CREATE ${ix.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS "ix_${name}_${ix.name}" ON "c_${name}" (${cols.join(', ')})${where}`,
      );
    }
    return new SqliteCollection<T>(this.db, name, coalesced, uniqueKeys);
  }

  async textIndex(name: string): Promise<TextIndex> {
    return new Fts5TextIndex(this.db, name);
  }

  async drop(name: string): Promise<void> {
    checkName('collection', name);
    this.db.exec(`DROP TABLE IF EXISTS "c_${name}"`);
  }

  async hasIndex(collection: string, index: string): Promise<boolean> {
    checkName('collection', collection);
    checkName('index', index);
    return (
      this.db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ? AND tbl_name = ?")
        .get(`ix_${collection}_${index}`, `c_${collection}`) !== undefined
    );
  }

  async dropIndex(collection: string, index: string): Promise<void> {
    checkName('collection', collection);
    checkName('index', index);
    this.db.exec(`DROP INDEX IF EXISTS "ix_${collection}_${index}"`);
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.release();
  }
}
