/**
 * The document store port: JSON documents with string ids in named collections, a small query
 * language both MongoDB (FerretDB v1) and SQLite implement identically, and no transactions.
 */

export type Scalar = string | number | boolean | null;

export interface Doc {
  _id: string;
  [field: string]: unknown;
}

/** An operator condition. Only `q.*` builds one, so a JSON value from a client can never become an operator. */
export class Cond {
  private constructor(
    readonly op: 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'nin' | 'exists' | 'has',
    readonly value: Scalar | readonly Scalar[] | boolean,
  ) {}

  /** @internal */
  static of(op: Cond['op'], value: Cond['value']): Cond {
    return new Cond(op, value);
  }
}

/** Field path (dotted for nested fields) → scalar (equality) or a `q.*` condition. Fields are ANDed. */
export type Filter = Readonly<Record<string, Scalar | Cond | readonly Cond[]>>;

export const q = {
  eq: (v: Scalar) => Cond.of('eq', v),
  ne: (v: Scalar) => Cond.of('ne', v),
  gt: (v: string | number) => Cond.of('gt', v),
  gte: (v: string | number) => Cond.of('gte', v),
  lt: (v: string | number) => Cond.of('lt', v),
  lte: (v: string | number) => Cond.of('lte', v),
  in: (v: readonly Scalar[]) => Cond.of('in', v),
  nin: (v: readonly Scalar[]) => Cond.of('nin', v),
  /** Present (even if null) or absent. */
  exists: (v: boolean) => Cond.of('exists', v),
  /** The field is an array containing this scalar. */
  has: (v: Scalar) => Cond.of('has', v),
};

export interface Update {
  /** Field path → new value. */
  $set?: Readonly<Record<string, unknown>>;
  /** Field path → number to add (missing counts as 0). */
  $inc?: Readonly<Record<string, number>>;
  $unset?: readonly string[];
  /** Applied only when an upsert inserts. */
  $setOnInsert?: Readonly<Record<string, unknown>>;
}

export type SortSpec = readonly (readonly [field: string, direction: 1 | -1])[];

export interface FindOptions {
  sort?: SortSpec;
  limit?: number;
  skip?: number;
}

export interface IndexSpec {
  name: string;
  fields: SortSpec;
  unique?: boolean;
  /** Documents missing the (first) field are left out of the index, so they never conflict. */
  sparse?: boolean;
}

export interface Collection<T extends Doc> {
  readonly name: string;
  /** Throws DuplicateKeyError when a unique index (or the id) already holds the values. */
  insertOne(doc: T): Promise<void>;
  /**
   * Inserts every document that does not collide with a unique index, in one round trip where
   * the backend allows; collisions are counted, not thrown.
   */
  insertMany(docs: readonly T[]): Promise<{ inserted: number; duplicates: number }>;
  /**
   * Inserts `docs` in order, in one round trip, stopping at the first one that collides with a
   * unique index (or the id): resolves how many went in, always a prefix of `docs`. Other
   * failures throw (documents before the failing one may be in).
   */
  insertOrdered(docs: readonly T[]): Promise<number>;
  findById(id: string): Promise<T | null>;
  findOne(filter: Filter, opts?: FindOptions): Promise<T | null>;
  find(filter: Filter, opts?: FindOptions): Promise<T[]>;
  count(filter: Filter): Promise<number>;
  /**
   * Updates the first match and returns it as it is after the update, or null when nothing
   * matched. With `upsert`, inserts from the filter's equality fields (the filter must fix `_id`)
   * plus the update. Not safe against concurrent writers of the same document: FerretDB v1 applies
   * updates as read-modify-write in its proxy and loses concurrent `$inc`s (20 concurrent
   * increments added 8 in our test). Serialize writers of one document (one worker per Kafka
   * partition) or claim values with `insertOne` on a unique index, which every backend enforces.
   */
  updateOne(filter: Filter, update: Update, opts?: { upsert?: boolean }): Promise<T | null>;
  /**
   * updateOne for each of `ops`, without their documents back, in as few round trips as the store
   * allows (one bulk write on MongoDB): a batch's per-conversation states (#19). Each op is
   * applied or fails on its own; the first failure is thrown once all have run.
   */
  updateEach(ops: readonly UpdateOp[]): Promise<void>;
  /** Updates every match; returns how many matched. */
  updateMany(filter: Filter, update: Update): Promise<number>;
  deleteMany(filter: Filter): Promise<number>;
}

/**
 * A full-text index over short texts, by term: what message search needs and no more. Callers
 * tokenize (one tokenizer, so both adapters match the same way) and pass each entry's terms.
 * SQLite: an FTS5 table (fts5.ts); MongoDB: a term collection (textindex.ts).
 */
export interface TextEntry {
  /**
   * What the entry indexes (a message id). A ref is always added with the same `at` (its
   * message's creation), and adding a ref already indexed changes nothing.
   */
  ref: string;
  /** The partition searches filter on (a conversation id). */
  scope: string;
  /** Epoch ms, for ranking by recency. */
  at: number;
  terms: readonly string[];
}

export interface TextHit {
  ref: string;
  term: string;
  at: number;
}

/** An entry as it is removed: its ref with the `at` it was added with (SQLite finds it by both). */
export type TextRef = Pick<TextEntry, 'ref' | 'at'>;

export interface TextIndex {
  add(entries: readonly TextEntry[]): Promise<void>;
  remove(entries: readonly TextRef[]): Promise<void>;
  /** Entries in `scopes` holding `term`, at most `limit` of them. */
  find(term: string, scopes: readonly string[], limit: number): Promise<TextHit[]>;
}

export interface DocumentStore {
  readonly kind: 'mongo' | 'sqlite';
  /** Opens a collection, creating it and its indexes when missing (idempotent). */
  collection<T extends Doc>(name: string, indexes?: readonly IndexSpec[]): Promise<Collection<T>>;
  /** Opens a full-text index (see textindex.ts), creating it when missing (idempotent). */
  textIndex(name: string): Promise<TextIndex>;
  /** Drops a collection (tests and migrations). */
  drop(name: string): Promise<void>;
  /** Drops an index a collection no longer declares (migrations); a missing one is no error. */
  dropIndex(collection: string, index: string): Promise<void>;
  /** Whether a collection has the named index (migrations); false when the collection is missing. */
  hasIndex(collection: string, index: string): Promise<boolean>;
  /**
   * Resolves once every write made so far is durable. MongoDB: at once (each write resolved after
   * its acknowledgement). SQLite: after the commit of the turn's writes (see GroupCommit); whatever
   * tells the outside world a write happened (an HTTP response, a socket frame) waits for this.
   */
  durable(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class DuplicateKeyError extends Error {
  constructor(
    readonly collection: string,
    readonly index: string,
  ) {
    super(`duplicate key in ${collection} (${index})`);
    this.name = 'DuplicateKeyError';
  }
}

/** A filter, update or option the port refuses (never reaches the database). */
export class InvalidQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidQueryError';
  }
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/;
const PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Every document of a batch insert has a non-empty string `_id` (checked before any is written). */
export function checkIds(docs: readonly Doc[]): void {
  for (const d of docs)
    if (typeof d._id !== 'string' || d._id.length === 0)
      throw new InvalidQueryError('_id must be a non-empty string');
}

export function checkName(kind: string, name: string): string {
  if (!NAME.test(name)) throw new InvalidQueryError(`${kind} name "${name}" must match ${NAME}`);
  return name;
}

export function checkPath(path: string): string {
  if (!PATH.test(path)) throw new InvalidQueryError(`field path "${path}" must match ${PATH}`);
  return path;
}

function isScalar(v: unknown): v is Scalar {
  return (
    v === null ||
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v))
  );
}

/** Normalized filter: each field with a list of conditions. Rejects anything that is not ours. */
export function normalizeFilter(filter: Filter): [string, Cond][] {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter))
    throw new InvalidQueryError('filter must be an object');
  const out: [string, Cond][] = [];
  for (const [path, v] of Object.entries(filter)) {
    checkPath(path);
    const conds = Array.isArray(v) ? v : [v];
    for (const c of conds as unknown[]) {
      if (c instanceof Cond) {
        const vals = Array.isArray(c.value) ? c.value : [c.value];
        if (!vals.every(isScalar)) throw new InvalidQueryError(`condition on "${path}" must compare scalars`);
        if ((c.op === 'in' || c.op === 'nin') && !Array.isArray(c.value))
          throw new InvalidQueryError(`${c.op} on "${path}" needs a list`);
        out.push([path, c]);
      } else if (isScalar(c)) {
        out.push([path, Cond.of('eq', c)]);
      } else {
        throw new InvalidQueryError(
          `value for "${path}" must be a string, number, boolean or null (got ${Array.isArray(c) ? 'array' : typeof c})`,
        );
      }
    }
  }
  return out;
}

export function checkUpdate(update: Update): void {
  const keys = Object.keys(update);
  if (keys.length === 0) throw new InvalidQueryError('update is empty');
  for (const k of keys)
    if (!['$set', '$inc', '$unset', '$setOnInsert'].includes(k))
      throw new InvalidQueryError(`unknown update operator ${k}`);
  for (const p of Object.keys(update.$set ?? {})) checkPath(p);
  for (const p of Object.keys(update.$setOnInsert ?? {})) checkPath(p);
  for (const [p, n] of Object.entries(update.$inc ?? {})) {
    checkPath(p);
    if (typeof n !== 'number' || !Number.isFinite(n))
      throw new InvalidQueryError(`$inc on "${p}" needs a number`);
  }
  for (const p of update.$unset ?? []) checkPath(p);
  if (update.$set && '_id' in update.$set) throw new InvalidQueryError('_id cannot be changed');
}

export function checkFindOptions(opts: FindOptions | undefined): void {
  if (!opts) return;
  for (const [f, d] of opts.sort ?? []) {
    checkPath(f);
    if (d !== 1 && d !== -1) throw new InvalidQueryError(`sort direction for "${f}" must be 1 or -1`);
  }
  for (const k of ['limit', 'skip'] as const) {
    const v = opts[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 0))
      throw new InvalidQueryError(`${k} must be a non-negative integer`);
  }
}

/** The document an upsert inserts: equality fields of the filter, then $setOnInsert, $set, $inc. */
/** One update of Collection.updateEach. */
export interface UpdateOp {
  filter: Filter;
  update: Update;
  upsert?: boolean;
}

export function upsertSeed(filter: Filter): Record<string, unknown> {
  const seed: Record<string, unknown> = {};
  for (const [path, c] of normalizeFilter(filter)) if (c.op === 'eq') setPath(seed, path, c.value);
  if (typeof seed._id !== 'string') throw new InvalidQueryError('an upsert filter must fix _id to a string');
  return seed;
}

export function getPath(doc: Record<string, unknown>, path: string): unknown {
  let node: unknown = doc;
  for (const k of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[k];
  }
  return node;
}

export function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = doc;
  for (const k of keys.slice(0, -1)) {
    const next = node[k];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

export function unsetPath(doc: Record<string, unknown>, path: string): void {
  const keys = path.split('.');
  let node: unknown = doc;
  for (const k of keys.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return;
    node = (node as Record<string, unknown>)[k];
  }
  if (node !== null && typeof node === 'object')
    delete (node as Record<string, unknown>)[keys[keys.length - 1]!];
}

/** Applies an update to a document in memory (SQLite adapter; also a reference for tests). */
/**
 * A copy of an update's value, so the document never shares objects with the caller. Plain
 * objects, arrays and primitives are copied here; anything else (Date, typed arrays) goes to
 * structuredClone, which costs several µs even for a number: four of them in the worker's state
 * update were 2% of the embedded server's main thread at 2,000 msg/s (#19).
 */
export function cloneValue<V>(v: V): V {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(cloneValue) as V;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return structuredClone(v);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = cloneValue((v as Record<string, unknown>)[k]);
  return out as V;
}

export function applyUpdate(doc: Record<string, unknown>, update: Update, inserting: boolean): void {
  if (inserting)
    for (const [p, v] of Object.entries(update.$setOnInsert ?? {})) setPath(doc, p, cloneValue(v));
  for (const [p, v] of Object.entries(update.$set ?? {})) setPath(doc, p, cloneValue(v));
  for (const [p, n] of Object.entries(update.$inc ?? {})) {
    const cur = getPath(doc, p);
    if (cur !== undefined && cur !== null && typeof cur !== 'number')
      throw new InvalidQueryError(`cannot $inc non-numeric field "${p}"`);
    setPath(doc, p, ((cur as number | undefined) ?? 0) + n);
  }
  for (const p of update.$unset ?? []) unsetPath(doc, p);
}
