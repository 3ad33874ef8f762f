#!/usr/bin/env node
// Verifies the MongoDB-wire server started by scripts/stack/up.sh (FerretDB v1,
// PostgreSQL or SQLite backend) with the official `mongodb` driver.
//
//   node scripts/stack/verify-ferretdb.mjs           basic checks (exit 1 on failure)
//   node scripts/stack/verify-ferretdb.mjs --probe   + feature probe table (informational;
//                                                    used to write FERRETDB_GAPS.md;
//                                                    waits ~65 s for the TTL monitor)
//
// The driver is resolved from the repo's node_modules or else from the current
// working directory (e.g. a scratch dir with `npm i mongodb`).
// Server from MONGO_URL (default mongodb://127.0.0.1:27017/parley).

import { load } from './resolve.mjs';

const mongodb = await load('mongodb');
const { MongoClient } = mongodb.default ?? mongodb;
const url = process.env.MONGO_URL || 'mongodb://127.0.0.1:27017/parley';
const probe = process.argv.includes('--probe');
const ttlWaitMs = Number(process.env.TTL_WAIT_MS || 65000);

const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
const db = client.db(); // database from the URL
const suffix = `${Date.now()}_${process.pid}`;
const coll = (n) => db.collection(`verify_${n}_${suffix}`);

function errText(err) {
  const code = err?.code ?? err?.errorResponse?.code;
  const name = err?.codeName ?? err?.errorResponse?.codeName;
  return `${err?.name}${code !== undefined ? ` code=${code}` : ''}${name ? ` (${name})` : ''}: ${String(err?.message).split('\n')[0]}`;
}
function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`timeout after ${ms} ms: ${what}`)), ms))),
  ]).finally(() => clearTimeout(t));
}

// ---- basic checks: these must pass ------------------------------------------
const checks = [];
async function check(name, fn) {
  try {
    const detail = await fn();
    checks.push(true);
    console.log(`PASS ${name}${detail ? ` - ${detail}` : ''}`);
  } catch (err) {
    checks.push(false);
    console.log(`FAIL ${name} - ${errText(err)}`);
  }
}

// ---- probes: informational, "works" / "FAILS: <error>" / "partial: ..." -----
const probes = [];
async function feature(name, fn) {
  let result;
  try {
    const detail = await fn();
    result =
      detail?.startsWith?.('partial') || detail?.startsWith?.('FAILS')
        ? detail
        : `works${detail ? ` (${detail})` : ''}`;
  } catch (err) {
    result = `FAILS: ${errText(err)}`;
  }
  probes.push([name, result]);
  console.log(`PROBE ${name}: ${result}`);
}

try {
  await check('connect + ping', async () => {
    await client.connect();
    await db.command({ ping: 1 });
    const info = await db.admin().command({ buildInfo: 1 });
    return `version=${info.version} ferretdb=${JSON.stringify(info.ferretdb?.version ?? info.ferretdbVersion ?? '?')}`;
  });

  const users = coll('users');
  await check('insertOne/insertMany + find', async () => {
    await users.insertOne({ handle: 'alice', n: 1 });
    await users.insertMany([
      { handle: 'bob', n: 2 },
      { handle: 'carol', n: 3 },
    ]);
    const docs = await users
      .find({ n: { $gte: 2 } })
      .sort({ n: 1 })
      .toArray();
    assert(docs.map((d) => d.handle).join() === 'bob,carol', `found ${docs.map((d) => d.handle)}`);
  });

  await check('createIndex unique + duplicate key error 11000', async () => {
    await users.createIndex({ handle: 1 }, { unique: true });
    try {
      await users.insertOne({ handle: 'alice' });
    } catch (err) {
      assert(err.code === 11000, `code 11000, got ${err.code}`);
      return errText(err);
    }
    throw new Error('duplicate insert did not fail');
  });

  if (probe) {
    // Start the TTL probe first: it needs the server's TTL monitor (60 s period in MongoDB).
    const ttl = coll('ttl');
    let ttlCreateErr = null;
    try {
      await ttl.createIndex({ createdAt: 1 }, { expireAfterSeconds: 1 });
      await ttl.insertOne({ createdAt: new Date(Date.now() - 3600_000) });
    } catch (err) {
      ttlCreateErr = err;
    }
    const ttlStart = Date.now();

    await feature('transactions (session.withTransaction)', async () => {
      const c = coll('tx');
      await c.insertOne({ a: 0 });
      const session = client.startSession();
      try {
        await session.withTransaction(async () => {
          await c.insertOne({ a: 1 }, { session });
          await c.updateOne({ a: 0 }, { $set: { b: 1 } }, { session });
        });
      } finally {
        await session.endSession();
      }
      return `committed, count=${await c.countDocuments()}`;
    });

    await feature('transactions abort rolls back', async () => {
      const c = coll('txabort');
      const session = client.startSession();
      try {
        session.startTransaction();
        await c.insertOne({ a: 1 }, { session });
        await session.abortTransaction();
      } finally {
        await session.endSession();
      }
      const n = await c.countDocuments();
      return n === 0
        ? 'rolled back'
        : `FAILS: abortTransaction did not roll back (count=${n}; sessions are ignored)`;
    });

    await feature('change streams (collection.watch)', async () => {
      const c = coll('cs');
      await c.insertOne({ x: 0 });
      const stream = c.watch();
      try {
        const next = stream.next();
        next.catch(() => {}); // observed below via withTimeout; avoid an unhandled rejection meanwhile
        await new Promise((r) => setTimeout(r, 200));
        await c.insertOne({ x: 1 });
        const ev = await withTimeout(next, 5000, 'change event');
        return `got ${ev.operationType}`;
      } finally {
        await stream.close().catch(() => {});
      }
    });

    await feature('text index (createIndex {body:"text"}) + $text search', async () => {
      const c = coll('text');
      await c.createIndex({ body: 'text' });
      await c.insertMany([{ body: 'hello parley world' }, { body: 'goodbye' }]);
      const docs = await c.find({ $text: { $search: 'parley' } }).toArray();
      return `found ${docs.length}`;
    });

    await feature('aggregate $lookup', async () => {
      const a = coll('lka');
      const b = coll('lkb');
      await a.insertOne({ _id: 1, uid: 'u1' });
      await b.insertOne({ _id: 'u1', name: 'alice' });
      const r = await a
        .aggregate([{ $lookup: { from: b.collectionName, localField: 'uid', foreignField: '_id', as: 'u' } }])
        .toArray();
      return `u=${JSON.stringify(r[0]?.u)}`;
    });

    await feature('aggregate $facet', async () => {
      const r = await users
        .aggregate([{ $facet: { total: [{ $count: 'n' }], top: [{ $sort: { n: -1 } }, { $limit: 1 }] } }])
        .toArray();
      return JSON.stringify(r[0]?.total);
    });

    await feature('collation (find with collation strength 2)', async () => {
      const r = await users.find({ handle: 'ALICE' }).collation({ locale: 'en', strength: 2 }).toArray();
      return r.length === 1 ? 'case-insensitive match' : `FAILS: accepted but ignored (matched ${r.length})`;
    });

    await feature('collation on createIndex', async () => {
      await coll('coll_idx').createIndex({ name: 1 }, { collation: { locale: 'en', strength: 2 } });
    });

    await feature('findOneAndUpdate upsert (returnDocument after)', async () => {
      const c = coll('fau');
      const r = await c.findOneAndUpdate(
        { k: 'x' },
        { $set: { v: 1 }, $setOnInsert: { created: true } },
        { upsert: true, returnDocument: 'after', includeResultMetadata: false },
      );
      assert(r?.v === 1 && r?.created === true, `upserted doc returned, got ${JSON.stringify(r)}`);
      const r2 = await c.findOneAndUpdate(
        { k: 'x' },
        { $inc: { v: 1 } },
        { upsert: true, returnDocument: 'after' },
      );
      assert(r2?.v === 2, `v=2 after second call, got ${JSON.stringify(r2)}`);
    });

    await feature('$inc', async () => {
      await users.updateOne({ handle: 'alice' }, { $inc: { n: 5 } });
      const d = await users.findOne({ handle: 'alice' });
      assert(d.n === 6, `n=6, got ${d.n}`);
    });

    await feature('aggregate $match/$group/$sort', async () => {
      const c = coll('grp');
      await c.insertMany([
        { room: 'a', n: 1 },
        { room: 'b', n: 2 },
        { room: 'a', n: 3 },
      ]);
      const r = await c
        .aggregate([
          { $match: { n: { $gt: 0 } } },
          { $group: { _id: '$room', total: { $sum: '$n' } } },
          { $sort: { total: -1 } },
        ])
        .toArray();
      assert(r.length === 2 && r[0]._id === 'a' && r[0].total === 4, JSON.stringify(r));
      return JSON.stringify(r);
    });

    await feature('$group with two accumulators ($sum:"$n" + $sum:1)', async () => {
      const c = coll('grp2');
      await c.insertMany([
        { room: 'a', n: 1 },
        { room: 'b', n: 2 },
        { room: 'a', n: 3 },
      ]);
      const r = await c
        .aggregate([
          { $group: { _id: '$room', total: { $sum: '$n' }, count: { $sum: 1 } } },
          { $sort: { _id: 1 } },
        ])
        .toArray();
      const ok = r[0]?.total === 4 && r[0]?.count === 2;
      return ok
        ? JSON.stringify(r)
        : `FAILS: wrong result, no error: ${JSON.stringify(r)} (expected a: total 4, count 2)`;
    });

    await feature(
      '$group accumulators ($count/$sum/$avg/$min/$max/$first/$last/$push/$addToSet)',
      async () => {
        const c = coll('acc');
        await c.insertMany([
          { room: 'a', n: 1 },
          { room: 'a', n: 3 },
        ]);
        const ok = [];
        const bad = [];
        for (const [acc, arg] of [
          ['$count', {}],
          ['$sum', '$n'],
          ['$avg', '$n'],
          ['$min', '$n'],
          ['$max', '$n'],
          ['$first', '$n'],
          ['$last', '$n'],
          ['$push', '$n'],
          ['$addToSet', '$n'],
        ]) {
          try {
            await c.aggregate([{ $group: { _id: '$room', v: { [acc]: arg } } }]).toArray();
            ok.push(acc);
          } catch (err) {
            bad.push(`${acc} -> ${errText(err)}`);
          }
        }
        return bad.length ? `partial: ok ${ok.join(' ')}; not implemented: ${bad.join('; ')}` : ok.join(' ');
      },
    );

    await feature('countDocuments / estimatedDocumentCount', async () => {
      const c = coll('count');
      await c.insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
      const n = await c.countDocuments({ n: { $gte: 2 } });
      const e = await c.estimatedDocumentCount();
      assert(n === 2 && e === 3, `count=2/est=3, got ${n}/${e}`);
      return `countDocuments=${n} estimated=${e}`;
    });

    // a few extras that chat-platform code commonly uses
    await feature('aggregate $unwind/$project/$skip/$limit', async () => {
      const c = coll('unw');
      await c.insertOne({ tags: ['x', 'y', 'z'] });
      const r = await c
        .aggregate([{ $unwind: '$tags' }, { $project: { _id: 0, tags: 1 } }, { $skip: 1 }, { $limit: 1 }])
        .toArray();
      assert(r[0]?.tags === 'y', JSON.stringify(r));
    });

    await feature('update arrayFilters + $addToSet/$pull', async () => {
      const c = coll('arr');
      await c.insertOne({
        _id: 1,
        members: [
          { u: 'a', role: 'm' },
          { u: 'b', role: 'm' },
        ],
        tags: [],
      });
      await c.updateOne({ _id: 1 }, { $addToSet: { tags: 'x' } });
      await c.updateOne({ _id: 1 }, { $pull: { tags: 'x' } });
      await c.updateOne(
        { _id: 1 },
        { $set: { 'members.$[m].role': 'admin' } },
        { arrayFilters: [{ 'm.u': 'b' }] },
      );
      const d = await c.findOne({ _id: 1 });
      assert(d.members[1].role === 'admin', JSON.stringify(d));
    });

    await feature('positional $ update', async () => {
      const c = coll('pos');
      await c.insertOne({
        _id: 1,
        members: [
          { u: 'a', n: 0 },
          { u: 'b', n: 0 },
        ],
      });
      await c.updateOne({ _id: 1, 'members.u': 'b' }, { $inc: { 'members.$.n': 1 } });
      const d = await c.findOne({ _id: 1 });
      assert(d.members[1].n === 1, JSON.stringify(d));
    });

    await feature('unique index with partialFilterExpression', async () => {
      await coll('partial').createIndex(
        { email: 1 },
        { unique: true, partialFilterExpression: { email: { $exists: true } } },
      );
    });

    await feature('sparse index', async () => {
      await coll('sparse').createIndex({ phone: 1 }, { sparse: true, unique: true });
    });

    await feature('bulkWrite ordered:false with duplicate', async () => {
      try {
        await users.bulkWrite(
          [{ insertOne: { document: { handle: 'dave' } } }, { insertOne: { document: { handle: 'bob' } } }],
          { ordered: false },
        );
        return 'FAILS: no duplicate error';
      } catch (err) {
        return `BulkWriteError inserted=${err.result?.insertedCount} firstError code=${err.writeErrors?.[0]?.code ?? err.code}`;
      }
    });

    await feature('distinct', async () => {
      const r = await users.distinct('handle');
      return `${r.length} values`;
    });

    await feature('$regex find', async () => {
      const r = await users.find({ handle: { $regex: '^a', $options: 'i' } }).toArray();
      assert(r.length === 1, `1 match, got ${r.length}`);
    });

    await feature('cursor batching (getMore)', async () => {
      const c = coll('batch');
      await c.insertMany(Array.from({ length: 250 }, (_, i) => ({ i })));
      const r = await c.find({}, { batchSize: 50 }).sort({ i: 1 }).toArray();
      assert(r.length === 250 && r[249].i === 249, `250 docs, got ${r.length}`);
    });

    await feature('TTL index (expireAfterSeconds) expires documents', async () => {
      if (ttlCreateErr) throw ttlCreateErr;
      const wait = Math.max(0, ttlWaitMs - (Date.now() - ttlStart));
      await new Promise((r) => setTimeout(r, wait));
      const n = await ttl.countDocuments();
      return n === 0
        ? `expired within ${Math.round((Date.now() - ttlStart) / 1000)} s`
        : `FAILS: index accepted, but expired document still present after ${Math.round((Date.now() - ttlStart) / 1000)} s`;
    });

    console.log('\n| feature | observed on this server |\n| --- | --- |');
    for (const [name, result] of probes) console.log(`| ${name} | ${result.replaceAll('|', '\\|')} |`);
  }
} finally {
  // clean up our collections
  try {
    for (const c of await db
      .listCollections({ name: { $regex: `^verify_.*_${suffix}$` } }, { nameOnly: true })
      .toArray()) {
      await db.dropCollection(c.name);
    }
  } catch (err) {
    console.log(`cleanup failed: ${errText(err)}`);
  }
  await client.close();
}

const failed = checks.filter((ok) => !ok).length;
console.log(`${checks.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
