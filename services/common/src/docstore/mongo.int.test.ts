import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { documentStoreContract } from './contract.ts';
import { MongoDocumentStore } from './mongo.ts';
import { mongoStats } from './mongostats.ts';
import { q, type Doc } from './port.ts';
import { requireEnv } from '../testenv.ts';

documentStoreContract('MongoDB wire protocol (FerretDB)', async () =>
  MongoDocumentStore.connect({ url: requireEnv('MONGO_URL') }),
);

describe('MongoDocumentStore on FerretDB: `in` as equality queries (splitin.ts)', () => {
  const name = `t_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let split: MongoDocumentStore;
  let whole: MongoDocumentStore;
  before(async () => {
    split = await MongoDocumentStore.connect({ url: requireEnv('MONGO_URL') });
    whole = await MongoDocumentStore.connect({ url: requireEnv('MONGO_URL'), splitIn: false });
  });
  after(async () => {
    await split?.drop(name);
    await Promise.all([split?.close(), whole?.close()]);
  });

  it('tells FerretDB from its buildInfo, sends one find a value, and answers as the single $in does', async () => {
    expect(split.splitsIn).to.equal(true);
    const a = await split.collection<Doc & { g: string; n: number }>(name);
    const b = await whole.collection<Doc & { g: string; n: number }>(name);
    await a.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: `d${i}`, g: `g${i % 4}`, n: i % 7 })));
    const finds = () => mongoStats.get(`find\0${name}`) ?? 0;
    const before = finds();
    const filter = { g: q.in(['g1', 'g3', 'g9']) };
    const opts = { sort: [['n', -1]] as const, skip: 2, limit: 9 };
    const got = await a.find(filter, opts);
    expect(finds() - before).to.equal(3);
    expect(got.map((d) => d._id)).to.deep.equal((await b.find(filter, opts)).map((d) => d._id));
    expect(got).to.have.length(9);
    expect(await a.count(filter)).to.equal(await b.count(filter));
  });
});

describe("The local stack's FerretDB on PostgreSQL: equalities on indexed fields use an index (ferretdb/id-index.sql)", () => {
  const name = `t_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let store: MongoDocumentStore;
  let client: mongoose.mongo.MongoClient;
  before(async () => {
    store = await MongoDocumentStore.connect({ url: requireEnv('MONGO_URL') });
    client = await new mongoose.mongo.MongoClient(requireEnv('MONGO_URL')).connect();
  });
  after(async () => {
    await store?.drop(name);
    await Promise.all([store?.close(), client?.close()]);
  });

  /** The index names in PostgreSQL's plan for `filter` (FerretDB's explain carries it). */
  async function indexesUsed(filter: Record<string, unknown>): Promise<string[] | undefined> {
    const plan = (await client.db().collection(name).find(filter).explain()) as {
      queryPlanner?: { Plan?: unknown };
    };
    if (!plan.queryPlanner?.Plan) return undefined;
    return [...JSON.stringify(plan.queryPlanner.Plan).matchAll(/"Index Name":"([^"]+)"/g)].map((m) => m[1]!);
  }

  it('serves an equality on the first field of a declared index from a GIN index, until the index is dropped', async function () {
    const coll = await store.collection<Doc & { owner: string; n: number }>(name, [
      {
        name: 'owner_n',
        fields: [
          ['owner', 1],
          ['n', 1],
        ],
      },
    ]);
    await coll.insertMany(Array.from({ length: 5000 }, (_, i) => ({ _id: `d${i}`, owner: `o${i}`, n: i })));
    const used = await indexesUsed({ owner: 'o42' });
    if (used === undefined) return this.skip(); // FerretDB's SQLite backend: no PostgreSQL plan
    expect(used.some((n) => n.startsWith('parley_gin_'))).to.equal(
      true,
      `plan used ${used.join(', ') || 'no index'}`,
    );
    expect((await indexesUsed({ _id: 'd42' }))!.some((n) => n.startsWith('parley_idgin_'))).to.equal(true);
    await store.dropIndex(name, 'owner_n');
    expect((await indexesUsed({ owner: 'o42' }))!.some((n) => n.startsWith('parley_gin_'))).to.equal(false);
  });
});
