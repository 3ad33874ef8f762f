import {
  Cond,
  getPath,
  normalizeFilter,
  q,
  type Doc,
  type Filter,
  type FindOptions,
  type Scalar,
  type Update,
} from './port.ts';

/**
 * FerretDB v1 pushes a lone equality (`{field: value}`) down to SQL, but for a filter with `$in` it
 * reads and decodes the whole collection in its proxy: `{_id: {$in: [id]}}` took 5.6-6.4 s among
 * 72,710 messages on the local stack, `{_id: id}` 2 ms, and 50 ids as 50 equalities 77-92 ms in
 * all. The MongoDB adapter therefore runs a filter's `in` on FerretDB as one equality query a value
 * and merges what they find (mongo.ts). This module is that plan, free of I/O.
 *
 * Splitting is exact for the port's `in`, which compares a scalar field (SQLite never matches an
 * array's members with it): a document matches at most one value, so the parts are disjoint.
 */
export interface InSplit {
  readonly path: string;
  /** The condition's distinct values; empty when nothing can match. */
  readonly values: readonly Scalar[];
  /** `filter` with the `in` condition replaced by equality to `value`. */
  filterFor(value: Scalar): Filter;
}

/**
 * The split of `filter` on its `in` condition with the fewest values, or undefined when it has
 * none. Validates the whole filter first, so an invalid one fails even when no query is run.
 */
export function splitIn(filter: Filter): InSplit | undefined {
  normalizeFilter(filter);
  let best: { path: string; cond: Cond; values: Scalar[] } | undefined;
  for (const [path, v] of Object.entries(filter)) {
    for (const c of Array.isArray(v) ? v : [v]) {
      if (!(c instanceof Cond) || c.op !== 'in') continue;
      const values = [...new Set(c.value as readonly Scalar[])];
      if (!best || values.length < best.values.length) best = { path, cond: c, values };
    }
  }
  if (!best) return undefined;
  const { path, cond, values } = best;
  const held = filter[path]!;
  const others = (Array.isArray(held) ? held : [held]).filter((c) => c !== cond) as Cond[];
  return {
    path,
    values,
    filterFor: (value) => ({ ...filter, [path]: others.length ? [q.eq(value), ...others] : value }),
  };
}

/**
 * Whether `update` writes `path` (or a field inside it, or one holding it). Such an updateMany is
 * not split: a document moved to a later value by one part would be updated again by its query.
 */
export function writesPath(update: Update, path: string): boolean {
  const written = [
    ...Object.keys(update.$set ?? {}),
    ...Object.keys(update.$inc ?? {}),
    ...(update.$unset ?? []),
    ...Object.keys(update.$setOnInsert ?? {}),
  ];
  return written.some((w) => w === path || w.startsWith(`${path}.`) || path.startsWith(`${w}.`));
}

/** The find options each part runs with: the sort, and enough documents for the skip and limit. */
export function partOptions(opts?: FindOptions): FindOptions {
  const limit = opts?.limit ? opts.limit + (opts.skip ?? 0) : undefined;
  return { ...(opts?.sort ? { sort: opts.sort } : {}), ...(limit ? { limit } : {}) };
}

/**
 * What the parts found, as the one query would have answered: each document once, in the sort's
 * order with `_id` breaking ties (as the adapter always asks), then the skip and the limit.
 */
export function mergeFound<T extends Doc>(parts: readonly (readonly T[])[], opts?: FindOptions): T[] {
  const seen = new Set<string>();
  const all: T[] = [];
  for (const part of parts)
    for (const d of part)
      if (!seen.has(d._id)) {
        seen.add(d._id);
        all.push(d);
      }
  const sort = [...(opts?.sort ?? [])];
  if (!sort.some(([f]) => f === '_id')) sort.push(['_id', 1]);
  all.sort((a, b) => {
    for (const [f, dir] of sort) {
      const c = compareValues(getPath(a, f), getPath(b, f));
      if (c !== 0) return c * dir;
    }
    return 0;
  });
  const skip = opts?.skip ?? 0;
  return all.slice(skip, opts?.limit ? skip + opts.limit : undefined);
}

/** MongoDB's order of BSON types, for the values documents hold: missing and null first. */
function typeRank(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return 1;
  if (typeof v === 'string') return 2;
  if (typeof v === 'boolean') return 5;
  return Array.isArray(v) ? 4 : 3;
}

/**
 * MongoDB's comparison of two sort keys: by type, then numbers by value, strings by their UTF-8
 * bytes (no collation), false before true. Objects and arrays compare equal within their type;
 * the port sorts on scalar fields.
 */
export function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : a < b ? -1 : 1;
  if (typeof a === 'string' && typeof b === 'string')
    return a === b ? 0 : Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return 0;
}
