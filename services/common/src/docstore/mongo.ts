import { CollectionTextIndex, type TermDoc } from './textindex.ts';
import mongoose from 'mongoose';
import { instrumentMongo } from './mongostats.ts';
import { mapInParallel } from '../parallel.ts';
import { mergeFound, partOptions, splitIn, writesPath, type InSplit } from './splitin.ts';
import {
  checkFindOptions,
  checkIds,
  checkName,
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
  type TextIndex,
  type Update,
  type UpdateOp,
} from './port.ts';

type MongoCollection = mongoose.mongo.Collection<mongoose.mongo.Document>;
type MongoFilter = Record<string, unknown>;

/** Translates a port filter into a MongoDB filter. Every value has been checked to be a scalar. */
export function toMongoFilter(filter: Filter): MongoFilter {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [path, c] of normalizeFilter(filter)) {
    const ops = (out[path] ??= {});
    const key = c.op === 'has' ? '$eq' : `$${c.op}`;
    if (key in ops) throw new InvalidQueryError(`two ${c.op} conditions on "${path}"`);
    ops[key] = c.value;
  }
  // A lone equality is sent as `{field: value}`: FerretDB v1 pushes that form down to SQL but
  // scans and decodes the whole collection for `{field: {$eq: value}}`. The value was checked to
  // be a scalar, so the short form cannot smuggle an operator.
  const result: Record<string, unknown> = {};
  for (const [path, ops] of Object.entries(out)) {
    const keys = Object.keys(ops);
    result[path] = keys.length === 1 && keys[0] === '$eq' && ops.$eq !== null ? ops.$eq : ops;
  }
  return result;
}

function toMongoUpdate(update: Update): mongoose.mongo.UpdateFilter<mongoose.mongo.Document> {
  checkUpdate(update);
  const u: Record<string, Record<string, unknown>> = {};
  if (update.$set && Object.keys(update.$set).length) u.$set = { ...update.$set };
  if (update.$inc && Object.keys(update.$inc).length) u.$inc = { ...update.$inc };
  if (update.$unset?.length) u.$unset = Object.fromEntries(update.$unset.map((p) => [p, '']));
  if (update.$setOnInsert && Object.keys(update.$setOnInsert).length)
    u.$setOnInsert = { ...update.$setOnInsert };
  return u;
}

function toSort(opts?: FindOptions): Record<string, 1 | -1> {
  checkFindOptions(opts);
  const sort: Record<string, 1 | -1> = {};
  for (const [f, d] of opts?.sort ?? []) sort[f] = d;
  if (!('_id' in sort)) sort._id = 1;
  return sort;
}

/**
 * MongoDB answers 11000. FerretDB v1 does too on insert, but an update that breaks a unique index
 * comes back as InternalError (code 1) carrying SQLite's or PostgreSQL's constraint message.
 */
export function isDuplicate(err: unknown): boolean {
  const e = err as { code?: number; message?: string };
  if (e.code === 11000) return true;
  return (
    e.code === 1 &&
    /UNIQUE constraint failed|duplicate key value violates unique constraint/.test(e.message ?? '')
  );
}

/** A bulk write error's per-document failures (the driver gives one or a list, flat or under `err`). */
function writeErrorsOf(err: unknown): { code?: number; index?: number }[] {
  const e = (err as { writeErrors?: unknown }).writeErrors;
  const list = (Array.isArray(e) ? e : e ? [e] : []) as {
    code?: number;
    index?: number;
    err?: { code?: number; index?: number };
  }[];
  return list.map((w) => ({ code: w.code ?? w.err?.code, index: w.index ?? w.err?.index }));
}

/** The largest ordered insert sent at once (FerretDB keeps MongoDB's ordered semantics within it). */
const ORDERED_CHUNK = 100;

/** The equality queries one split `in` keeps in flight (splitin.ts). */
const SPLIT_PARALLELISM = 8;

class MongoDocCollection<T extends Doc> implements Collection<T> {
  constructor(
    private readonly coll: MongoCollection,
    readonly name: string,
    /** FerretDB: run a filter's `in` as equality queries, one a value (splitin.ts). */
    private readonly splitsIn: boolean,
  ) {}

  private split(filter: Filter): InSplit | undefined {
    return this.splitsIn ? splitIn(filter) : undefined;
  }

  /**
   * `run` over `filter` once, or over each part of `split` (8 in flight). A part goes to the server
   * as it is: a second `in` in the filter stays one `$in` within each part.
   */
  private async overParts<R>(
    filter: Filter,
    split: InSplit | undefined,
    run: (f: Filter) => Promise<R>,
  ): Promise<R[]> {
    if (!split) return [await run(filter)];
    return mapInParallel(split.values, SPLIT_PARALLELISM, (v) => run(split.filterFor(v)));
  }

  private dup(err: unknown): never {
    if (isDuplicate(err)) {
      const m = /index:? '?([A-Za-z0-9_]+)/.exec((err as Error).message);
      throw new DuplicateKeyError(this.name, m?.[1] ?? 'unique');
    }
    throw err;
  }

  async insertOne(doc: T): Promise<void> {
    if (typeof doc._id !== 'string' || doc._id.length === 0)
      throw new InvalidQueryError('_id must be a non-empty string');
    try {
      await this.coll.insertOne({ ...doc } as mongoose.mongo.Document);
    } catch (err) {
      this.dup(err);
    }
  }

  async insertMany(docs: readonly T[]): Promise<{ inserted: number; duplicates: number }> {
    if (docs.length === 0) return { inserted: 0, duplicates: 0 };
    checkIds(docs);
    try {
      const r = await this.coll.insertMany(
        docs.map((d) => ({ ...d }) as mongoose.mongo.Document),
        { ordered: false },
      );
      return { inserted: r.insertedCount, duplicates: 0 };
    } catch (err) {
      // Unordered: every non-colliding document went in; only duplicate-key failures are expected.
      const e = err as { insertedCount?: number; result?: { insertedCount?: number } };
      const writeErrors = writeErrorsOf(err);
      if (writeErrors.length === 0 || !writeErrors.every((w) => w.code === 11000)) throw err;
      const inserted = e.insertedCount ?? e.result?.insertedCount ?? docs.length - writeErrors.length;
      return { inserted, duplicates: writeErrors.length };
    }
  }

  async insertOrdered(docs: readonly T[]): Promise<number> {
    if (docs.length === 0) return 0;
    checkIds(docs);
    // One insertMany per ORDERED_CHUNK documents, the next only once the previous went in whole:
    // FerretDB v1 runs an ordered insert in chunks of 100 and, after a collision in one, still
    // inserts the later ones (scripts/stack/FERRETDB_GAPS.md), where MongoDB stops at the first.
    let inserted = 0;
    for (let i = 0; i < docs.length; i += ORDERED_CHUNK) {
      const chunk = docs.slice(i, i + ORDERED_CHUNK);
      const n = await this.insertChunkOrdered(chunk);
      inserted += n;
      if (n < chunk.length) break;
    }
    return inserted;
  }

  private async insertChunkOrdered(docs: readonly T[]): Promise<number> {
    try {
      const r = await this.coll.insertMany(
        docs.map((d) => ({ ...d }) as mongoose.mongo.Document),
        { ordered: true },
      );
      return r.insertedCount;
    } catch (err) {
      // Ordered: the server stops at the first failure; everything before it went in.
      const [first] = writeErrorsOf(err);
      if (!first || first.code !== 11000) throw err;
      return first.index ?? 0;
    }
  }

  async findById(id: string): Promise<T | null> {
    return (await this.coll.findOne(toMongoFilter({ _id: id }))) as unknown as T | null;
  }

  async findOne(filter: Filter, opts?: FindOptions): Promise<T | null> {
    const [first] = await this.find(filter, { ...opts, limit: 1 });
    return first ?? null;
  }

  async find(filter: Filter, opts?: FindOptions): Promise<T[]> {
    const s = this.split(filter);
    if (!s) return this.findAll(filter, opts);
    checkFindOptions(opts);
    return mergeFound(await this.overParts(filter, s, (part) => this.findAll(part, partOptions(opts))), opts);
  }

  private async findAll(filter: Filter, opts?: FindOptions): Promise<T[]> {
    let cursor = this.coll.find(toMongoFilter(filter)).sort(toSort(opts));
    if (opts?.skip) cursor = cursor.skip(opts.skip);
    if (opts?.limit) cursor = cursor.limit(opts.limit);
    return (await cursor.toArray()) as unknown as T[];
  }

  async count(filter: Filter): Promise<number> {
    return sum(
      await this.overParts(filter, this.split(filter), (f) => this.coll.countDocuments(toMongoFilter(f))),
    );
  }

  async updateOne(filter: Filter, update: Update, opts?: { upsert?: boolean }): Promise<T | null> {
    const mf = toMongoFilter(filter);
    const mu = toMongoUpdate(update);
    if (opts?.upsert) upsertSeed(filter);
    try {
      const res = await this.coll.findOneAndUpdate(mf, mu, {
        upsert: opts?.upsert ?? false,
        returnDocument: 'after',
        sort: { _id: 1 },
        includeResultMetadata: false,
      });
      return res as T | null;
    } catch (err) {
      // Two concurrent upserts of one _id: MongoDB lets one fail with 11000; the retry finds the document.
      if (opts?.upsert && isDuplicate(err)) {
        const res = await this.coll.findOneAndUpdate(mf, mu, {
          returnDocument: 'after',
          includeResultMetadata: false,
        });
        if (res) return res as unknown as T;
      }
      this.dup(err);
    }
  }

  async updateEach(ops: readonly UpdateOp[]): Promise<void> {
    if (ops.length === 0) return;
    for (const o of ops) if (o.upsert) upsertSeed(o.filter);
    try {
      await this.coll.bulkWrite(
        ops.map((o) => ({
          updateOne: {
            filter: toMongoFilter(o.filter),
            update: toMongoUpdate(o.update),
            upsert: o.upsert ?? false,
          },
        })),
        { ordered: false },
      );
    } catch (err) {
      // Two concurrent upserts of one _id (MongoDB fails one with 11000), or a unique index: each
      // op again on its own, where updateOne retries the first and maps the second.
      if (!isDuplicate(err)) throw err;
      let first: unknown;
      for (const o of ops)
        await this.updateOne(o.filter, o.update, o.upsert ? { upsert: true } : {}).catch((e: unknown) => {
          first ??= e;
        });
      if (first !== undefined) throw first;
    }
  }

  async updateMany(filter: Filter, update: Update): Promise<number> {
    const mu = toMongoUpdate(update);
    const s = this.split(filter);
    const matched = await this.overParts(
      filter,
      s && !writesPath(update, s.path) ? s : undefined,
      async (f) => {
        try {
          return (await this.coll.updateMany(toMongoFilter(f), mu)).matchedCount;
        } catch (err) {
          this.dup(err);
        }
      },
    );
    return sum(matched);
  }

  async deleteMany(filter: Filter): Promise<number> {
    const deleted = await this.overParts(filter, this.split(filter), async (f) => {
      return (await this.coll.deleteMany(toMongoFilter(f))).deletedCount;
    });
    return sum(deleted);
  }
}

function sum(ns: readonly number[]): number {
  return ns.reduce((a, b) => a + b, 0);
}

export interface MongoStoreOptions {
  url: string;
  /** How long one server selection may take before an operation fails. */
  serverSelectionTimeoutMs?: number;
  /**
   * Run a filter's `in` as one equality query a value (splitin.ts). Default: when the server is
   * FerretDB (its buildInfo says ferretdbVersion), which scans the whole collection for `$in`.
   */
  splitIn?: boolean;
}

/**
 * The production document store over the MongoDB wire protocol (MongoDB, or FerretDB v1), through
 * mongoose's connection management. Uses only features FerretDB v1 supports: no transactions,
 * change streams, TTL or text indexes, $lookup, $facet or collation.
 */
export class MongoDocumentStore implements DocumentStore {
  readonly kind = 'mongo' as const;
  private readonly conn: mongoose.Connection;

  private constructor(
    conn: mongoose.Connection,
    /** Whether filters' `in` run as equality queries, one a value (on FerretDB; splitin.ts). */
    readonly splitsIn: boolean,
  ) {
    this.conn = conn;
  }

  static async connect(opts: MongoStoreOptions): Promise<MongoDocumentStore> {
    const conn = mongoose.createConnection(opts.url, {
      serverSelectionTimeoutMS: opts.serverSelectionTimeoutMs ?? 5000,
      autoIndex: false,
      autoCreate: false,
      bufferCommands: false,
      // Counted for /metrics and bench:cost (mongostats.ts): the commands a message costs.
      monitorCommands: true,
    });
    let splitsIn: boolean;
    try {
      await conn.asPromise();
      instrumentMongo(conn.getClient());
      splitsIn =
        opts.splitIn ?? 'ferretdbVersion' in (await conn.getClient().db().admin().command({ buildInfo: 1 }));
    } catch (err) {
      await conn.close().catch(() => {});
      throw err;
    }
    return new MongoDocumentStore(conn, splitsIn);
  }

  private get db(): mongoose.mongo.Db {
    const db = this.conn.db;
    if (!db) throw new Error('MongoDB connection is not open');
    return db;
  }

  async collection<T extends Doc>(name: string, indexes: readonly IndexSpec[] = []): Promise<Collection<T>> {
    checkName('collection', name);
    const coll = this.db.collection(name);
    for (const ix of indexes) {
      checkName('index', ix.name);
      await coll.createIndex(Object.fromEntries(ix.fields.map(([f, d]) => [f, d])), {
        name: ix.name,
        unique: ix.unique ?? false,
        ...(ix.sparse ? { sparse: true } : {}),
      });
    }
    return new MongoDocCollection<T>(coll, name, this.splitsIn);
  }

  async textIndex(name: string): Promise<TextIndex> {
    return new CollectionTextIndex(
      await this.collection<TermDoc>(name, [
        {
          name: 'term_conv',
          fields: [
            ['term', 1],
            ['conversationId', 1],
          ],
        },
        { name: 'message', fields: [['messageId', 1]] },
      ]),
    );
  }

  async drop(name: string): Promise<void> {
    checkName('collection', name);
    try {
      await this.db.dropCollection(name);
    } catch (err) {
      if ((err as { codeName?: string; code?: number }).code !== 26) throw err; // NamespaceNotFound
    }
  }

  async hasIndex(collection: string, index: string): Promise<boolean> {
    checkName('collection', collection);
    checkName('index', index);
    try {
      return await this.db.collection(collection).indexExists(index);
    } catch (err) {
      if ((err as { code?: number }).code === 26) return false; // NamespaceNotFound
      throw err;
    }
  }

  async dropIndex(collection: string, index: string): Promise<void> {
    checkName('collection', collection);
    checkName('index', index);
    try {
      await this.db.collection(collection).dropIndex(index);
    } catch (err) {
      const code = (err as { code?: number }).code;
      // IndexNotFound, NamespaceNotFound: nothing to drop.
      if (code !== 27 && code !== 26) throw err;
    }
  }

  /** Each write resolved after its acknowledgement: nothing is left to wait for. */
  async durable(): Promise<void> {}

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.conn.close();
  }
}
