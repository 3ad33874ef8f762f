#!/usr/bin/env node
// Micro-benchmark / sanity probe of the FerretDB started by scripts/stack/up.sh,
// used to compare its backends (PARLEY_FERRETDB_BACKEND=pg|sqlite):
//   1. inserts N docs (default 5000) with string _id into a scratch collection,
//      times 200 sequential findOne({_id}) calls and prints `explain` for one;
//   2. 20 concurrent updateOne({_id}, {$inc: {n: 1}}) on one document, and
//      prints the final n (20 = no lost updates).
// The scratch collections are dropped at the end.
//
//   node scripts/stack/bench-ferretdb.mjs            (MONGO_URL, default mongodb://127.0.0.1:27017/parley)
//   BENCH_DOCS=5000 BENCH_LOOKUPS=200 node scripts/stack/bench-ferretdb.mjs

import { load } from './resolve.mjs';

const mongodb = await load('mongodb');
const { MongoClient } = mongodb.default ?? mongodb;
const url = process.env.MONGO_URL || 'mongodb://127.0.0.1:27017/parley';
const nDocs = Number(process.env.BENCH_DOCS || 5000);
const nLookups = Number(process.env.BENCH_LOOKUPS || 200);

const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
const db = client.db();
const suffix = `${Date.now()}_${process.pid}`;
const coll = db.collection(`bench_findbyid_${suffix}`);
const incColl = db.collection(`bench_inc_${suffix}`);
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

try {
  const build = await db.admin().command({ buildInfo: 1 });
  console.log(
    `server: ${url}  buildInfo.version=${build.version}  ferretdb=${JSON.stringify(build.ferretdb ?? null)}`,
  );

  // ---- 1. findById -----------------------------------------------------------
  let t0 = process.hrtime.bigint();
  const batch = 500;
  for (let i = 0; i < nDocs; i += batch) {
    const docs = [];
    for (let j = i; j < Math.min(nDocs, i + batch); j++) {
      docs.push({
        _id: `msg-${String(j).padStart(6, '0')}-${(j * 2654435761) % 1e9}`,
        room: `r${j % 50}`,
        n: j,
        body: 'x'.repeat(200),
      });
    }
    await coll.insertMany(docs, { ordered: false });
  }
  console.log(`insert ${nDocs} docs: ${ms(t0).toFixed(0)} ms`);

  const ids = [];
  for (let k = 0; k < nLookups; k++) {
    const j = Math.floor(Math.random() * nDocs);
    ids.push(`msg-${String(j).padStart(6, '0')}-${(j * 2654435761) % 1e9}`);
  }
  await coll.findOne({ _id: ids[0] }); // warm-up
  const lat = [];
  t0 = process.hrtime.bigint();
  for (const id of ids) {
    const t = process.hrtime.bigint();
    const doc = await coll.findOne({ _id: id });
    lat.push(ms(t));
    if (!doc) throw new Error(`findOne({_id: ${id}}) returned null`);
  }
  const total = ms(t0);
  lat.sort((a, b) => a - b);
  console.log(
    `findOne({_id}) x${nLookups}: total ${total.toFixed(0)} ms, mean ${(total / nLookups).toFixed(2)} ms, ` +
      `p50 ${pct(lat, 50).toFixed(2)} ms, p95 ${pct(lat, 95).toFixed(2)} ms, max ${lat[lat.length - 1].toFixed(2)} ms`,
  );
  const plan = await coll.find({ _id: ids[0] }).explain();
  console.log('explain find({_id}):');
  console.log(JSON.stringify(plan.queryPlanner ?? plan, null, 2));
  console.log(
    `explain pushdown flags: ${JSON.stringify({ filterPushdown: plan.filterPushdown, sortPushdown: plan.sortPushdown, limitPushdown: plan.limitPushdown })}`,
  );

  // ---- 2. concurrent $inc --------------------------------------------------
  await incColl.insertOne({ _id: 'counter', n: 0 });
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, () => incColl.updateOne({ _id: 'counter' }, { $inc: { n: 1 } })),
  );
  const failed = results.filter((r) => r.status === 'rejected');
  const final = await incColl.findOne({ _id: 'counter' });
  console.log(
    `20 concurrent updateOne $inc: final n=${final.n} (expected 20), ` +
      `modifiedCount sum=${results.filter((r) => r.status === 'fulfilled').reduce((s, r) => s + r.value.modifiedCount, 0)}, ` +
      `rejected=${failed.length}${failed.length ? ` first: ${failed[0].reason?.message}` : ''}`,
  );
} finally {
  await coll.drop().catch(() => {});
  await incColl.drop().catch(() => {});
  await client.close();
}
