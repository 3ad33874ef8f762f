import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import {
  DuplicateKeyError,
  InvalidQueryError,
  q,
  type Collection,
  type Doc,
  type DocumentStore,
} from './port.ts';

interface Item extends Doc {
  owner: string;
  n: number;
  tags?: string[];
  email?: string;
  profile?: { city?: string; visits?: { at: number }[] };
  flag?: boolean;
}

/** The cases every DocumentStore adapter must pass, run against each implementation. */
export function documentStoreContract(name: string, open: () => Promise<DocumentStore>): void {
  describe(`DocumentStore contract: ${name}`, function () {
    let store: DocumentStore;
    let items: Collection<Item>;
    let collName: string;

    before(async () => {
      store = await open();
    });
    after(async () => {
      await store?.close();
    });
    beforeEach(async () => {
      collName = `t_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      items = await store.collection<Item>(collName, [
        {
          name: 'owner_n',
          fields: [
            ['owner', 1],
            ['n', 1],
          ],
          unique: true,
        },
        { name: 'email', fields: [['email', 1]], unique: true, sparse: true },
      ]);
    });
    afterEach(async () => {
      await store.drop(collName);
    });

    it('writes and reads back a document by id', async () => {
      await items.insertOne({ _id: 'a', owner: 'u1', n: 1, profile: { city: 'Oslo' }, tags: ['x'] });
      expect(await items.findById('a')).to.deep.equal({
        _id: 'a',
        owner: 'u1',
        n: 1,
        profile: { city: 'Oslo' },
        tags: ['x'],
      });
      expect(await items.findById('missing')).to.equal(null);
    });

    it('rejects a second document with the same id', async () => {
      await items.insertOne({ _id: 'a', owner: 'u1', n: 1 });
      await expectReject(items.insertOne({ _id: 'a', owner: 'u2', n: 2 }), DuplicateKeyError);
    });

    it('inserts many at once, counting the ones that collide instead of failing', async () => {
      await items.insertOne({ _id: 'a', owner: 'u1', n: 1 });
      const r = await items.insertMany([
        { _id: 'b', owner: 'u1', n: 2 },
        { _id: 'a', owner: 'u9', n: 9 },
        { _id: 'c', owner: 'u1', n: 1 },
        { _id: 'd', owner: 'u1', n: 4 },
      ]);
      expect(r).to.deep.equal({ inserted: 2, duplicates: 2 });
      expect((await items.find({}, { sort: [['_id', 1]] })).map((d) => d._id)).to.deep.equal(['a', 'b', 'd']);
      expect(await items.insertMany([])).to.deep.equal({ inserted: 0, duplicates: 0 });
    });

    it('inserts in order up to the first collision, and says how many went in', async () => {
      await items.insertOne({ _id: 'a', owner: 'u1', n: 1 });
      // (u1, 1) collides with a's compound unique key: b goes in, nothing after the collision does.
      const n = await items.insertOrdered([
        { _id: 'b', owner: 'u1', n: 2 },
        { _id: 'x', owner: 'u1', n: 1 },
        { _id: 'c', owner: 'u1', n: 3 },
      ]);
      expect(n).to.equal(1);
      expect((await items.find({}, { sort: [['_id', 1]] })).map((d) => d._id)).to.deep.equal(['a', 'b']);
      expect(await items.insertOrdered([{ _id: 'a', owner: 'u3', n: 1 }])).to.equal(0);
      expect(
        await items.insertOrdered([
          { _id: 'c', owner: 'u1', n: 3 },
          { _id: 'd', owner: 'u1', n: 4 },
        ]),
      ).to.equal(2);
      expect(await items.insertOrdered([])).to.equal(0);
      expect(await items.count({})).to.equal(4);
    });

    it('stops an ordered insert at its first collision however long the batch (FerretDB goes on past 100)', async () => {
      await items.insertOne({ _id: 'a', owner: 'u1', n: 1 });
      // FerretDB v1 inserts in chunks of 100 and, after a collision in one, carried on with the
      // next: the worker then stored seqs it had planned after the collision and left a gap (#19).
      const docs = [
        { _id: 'x', owner: 'u1', n: 1 },
        ...Array.from({ length: 249 }, (_, i) => ({
          _id: `b${String(i).padStart(3, '0')}`,
          owner: 'u2',
          n: i,
        })),
      ];
      expect(await items.insertOrdered(docs)).to.equal(0);
      expect(await items.count({})).to.equal(1);
      docs[150] = { _id: 'y', owner: 'u1', n: 1 };
      expect(await items.insertOrdered(docs.slice(1))).to.equal(149);
      expect(await items.count({})).to.equal(150);
      expect((await items.findOne({}, { sort: [['_id', -1]] }))?._id).to.equal('b148');
    });

    it('enforces a compound unique index', async () => {
      await items.insertOne({ _id: 'a', owner: 'u1', n: 1 });
      await items.insertOne({ _id: 'b', owner: 'u1', n: 2 });
      await items.insertOne({ _id: 'c', owner: 'u2', n: 1 });
      const err = await expectReject(items.insertOne({ _id: 'd', owner: 'u1', n: 1 }), DuplicateKeyError);
      expect(err.collection).to.equal(collName);
    });

    it('lets documents without a sparse unique field coexist but not two with the same value', async () => {
      await items.insertOne({ _id: 'a', owner: 'u1', n: 1 });
      await items.insertOne({ _id: 'b', owner: 'u1', n: 2 });
      await items.insertOne({ _id: 'c', owner: 'u1', n: 3, email: 'x@example.com' });
      await expectReject(
        items.insertOne({ _id: 'd', owner: 'u1', n: 4, email: 'x@example.com' }),
        DuplicateKeyError,
      );
    });

    it('tells and drops an index no longer declared, and dropping a missing one is harmless', async () => {
      const name = `${collName}_drop`;
      const spec = [{ name: 'email', fields: [['email', 1]] as [string, 1][], unique: true }];
      const c = await store.collection<Item>(name, spec);
      await c.insertOne({ _id: 'a', owner: 'u1', n: 1, email: 'x@example.com' });
      await expectReject(
        c.insertOne({ _id: 'b', owner: 'u1', n: 2, email: 'x@example.com' }),
        DuplicateKeyError,
      );
      expect(await store.hasIndex(name, 'email')).to.equal(true);
      await store.dropIndex(name, 'email');
      expect(await store.hasIndex(name, 'email')).to.equal(false);
      await store.dropIndex(name, 'email');
      await store.dropIndex(`${name}_none`, 'email');
      expect(await store.hasIndex(`${name}_none`, 'email'), 'on a missing collection').to.equal(false);
      const reopened = await store.collection<Item>(name);
      await reopened.insertOne({ _id: 'b', owner: 'u1', n: 2, email: 'x@example.com' });
      expect(await reopened.count({ email: 'x@example.com' })).to.equal(2);
      await store.drop(name);
    });

    it('creating a collection and its indexes twice is harmless', async () => {
      const again = await store.collection<Item>(collName, [
        {
          name: 'owner_n',
          fields: [
            ['owner', 1],
            ['n', 1],
          ],
          unique: true,
        },
      ]);
      await again.insertOne({ _id: 'a', owner: 'u1', n: 1 });
      expect(await items.count({})).to.equal(1);
    });

    it('finds with equality, ranges, in, nested paths, sort, skip and limit', async () => {
      for (let i = 1; i <= 6; i++)
        await items.insertOne({
          _id: `id${i}`,
          owner: i % 2 ? 'odd' : 'even',
          n: i,
          profile: { city: i <= 3 ? 'Oslo' : 'Rome' },
        });
      const ids = (docs: Item[]) => docs.map((d) => d._id);
      expect(ids(await items.find({ owner: 'odd' }, { sort: [['n', -1]] }))).to.deep.equal([
        'id5',
        'id3',
        'id1',
      ]);
      expect(ids(await items.find({ n: [q.gt(2), q.lte(5)] }, { sort: [['n', 1]] }))).to.deep.equal([
        'id3',
        'id4',
        'id5',
      ]);
      expect(ids(await items.find({ n: q.in([1, 6]) }, { sort: [['n', 1]] }))).to.deep.equal(['id1', 'id6']);
      expect(ids(await items.find({ n: q.nin([1, 2, 3, 4]) }, { sort: [['n', 1]] }))).to.deep.equal([
        'id5',
        'id6',
      ]);
      expect(
        ids(await items.find({ 'profile.city': 'Rome', owner: q.ne('odd') }, { sort: [['n', 1]] })),
      ).to.deep.equal(['id4', 'id6']);
      expect(ids(await items.find({}, { sort: [['n', 1]], skip: 2, limit: 2 }))).to.deep.equal([
        'id3',
        'id4',
      ]);
      expect((await items.findOne({ owner: 'even' }, { sort: [['n', -1]] }))?._id).to.equal('id6');
      expect(await items.count({ owner: 'even' })).to.equal(3);
      expect(await items.findOne({ owner: 'nobody' })).to.equal(null);
    });

    it('matches array members, presence and booleans', async () => {
      await items.insertOne({ _id: 'a', owner: 'u', n: 1, tags: ['red', 'blue'], flag: true });
      await items.insertOne({ _id: 'b', owner: 'u', n: 2, tags: ['green'], flag: false });
      await items.insertOne({ _id: 'c', owner: 'u', n: 3 });
      expect((await items.find({ tags: q.has('blue') })).map((d) => d._id)).to.deep.equal(['a']);
      expect((await items.find({ tags: q.exists(false) })).map((d) => d._id)).to.deep.equal(['c']);
      expect((await items.find({ flag: true })).map((d) => d._id)).to.deep.equal(['a']);
      expect((await items.find({ flag: false })).map((d) => d._id)).to.deep.equal(['b']);
    });

    it('updates a document and returns it as it is after the update', async () => {
      await items.insertOne({ _id: 'a', owner: 'u', n: 1, profile: { city: 'Oslo' } });
      const after = await items.updateOne({ _id: 'a' }, { $set: { 'profile.city': 'Rome' }, $inc: { n: 2 } });
      expect(after).to.deep.equal({ _id: 'a', owner: 'u', n: 3, profile: { city: 'Rome' } });
      const unset = await items.updateOne({ _id: 'a' }, { $unset: ['profile'] });
      expect(unset).to.deep.equal({ _id: 'a', owner: 'u', n: 3 });
      expect(await items.updateOne({ _id: 'nope' }, { $inc: { n: 1 } })).to.equal(null);
    });

    it("stores a copy of what $set is given: changing the caller's objects afterwards changes nothing stored", async () => {
      const profile = { city: 'Oslo', visits: [{ at: 1 }] };
      await items.updateOne({ _id: 'a' }, { $set: { owner: 'u', profile } }, { upsert: true });
      const after = await items.updateOne({ _id: 'a' }, { $set: { n: 1 } });
      profile.city = 'Rome';
      profile.visits[0]!.at = 2;
      after!.profile!.city = 'Bergen';
      expect((await items.findById('a'))?.profile).to.deep.equal({ city: 'Oslo', visits: [{ at: 1 }] });
    });

    it('upserts a counter and increments it', async () => {
      for (let i = 1; i <= 5; i++) {
        const r = await items.updateOne(
          { _id: 'seq' },
          { $inc: { n: 1 }, $setOnInsert: { owner: 'counter' } },
          { upsert: true },
        );
        expect(r?.n).to.equal(i);
      }
      expect((await items.findById('seq'))?.owner).to.equal('counter');
    });

    it('a unique index lets concurrent writers claim gap-free numbers exactly once', async () => {
      // The allocation pattern that is safe on every backend, FerretDB v1 included.
      const claim = async (writer: string): Promise<number> => {
        for (;;) {
          const last = await items.findOne({ owner: 'seq' }, { sort: [['n', -1]] });
          const n = (last?.n ?? 0) + 1;
          try {
            await items.insertOne({ _id: `${writer}-${n}`, owner: 'seq', n });
            return n;
          } catch (err) {
            if (!(err instanceof DuplicateKeyError)) throw err;
          }
        }
      };
      const got = await Promise.all(Array.from({ length: 12 }, (_, i) => claim(`w${i}`)));
      expect([...got].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(await items.count({ owner: 'seq' })).to.equal(12);
    });

    it('an update that breaks a unique index fails with DuplicateKeyError and changes nothing', async () => {
      await items.insertOne({ _id: 'a', owner: 'u', n: 1 });
      await items.insertOne({ _id: 'b', owner: 'u', n: 2 });
      await expectReject(items.updateOne({ _id: 'b' }, { $set: { n: 1 } }), DuplicateKeyError);
      expect((await items.findById('b'))?.n).to.equal(2);
    });

    it('updates each of several documents in one call, upserting, and one op failing leaves the others applied', async () => {
      await items.insertOne({ _id: 'a', owner: 'u', n: 1 });
      await items.insertOne({ _id: 'b', owner: 'u', n: 2 });
      await items.updateEach([
        { filter: { _id: 'a' }, update: { $set: { n: 10 } } },
        { filter: { _id: 'c' }, update: { $set: { owner: 'v', n: 30 } }, upsert: true },
        { filter: { _id: 'missing' }, update: { $set: { n: 99 } } },
      ]);
      expect((await items.find({}, { sort: [['_id', 1]] })).map((d) => [d._id, d.owner, d.n])).to.deep.equal([
        ['a', 'u', 10],
        ['b', 'u', 2],
        ['c', 'v', 30],
      ]);
      // `n` is unique per owner: setting b's to a's fails, the ops around it still apply.
      await expectReject(
        items.updateEach([
          { filter: { _id: 'a' }, update: { $set: { flag: true } } },
          { filter: { _id: 'b' }, update: { $set: { n: 10 } } },
          { filter: { _id: 'c' }, update: { $set: { flag: true } } },
        ]),
        DuplicateKeyError,
      );
      expect((await items.find({ flag: true }, { sort: [['_id', 1]] })).map((d) => d._id)).to.deep.equal([
        'a',
        'c',
      ]);
      expect((await items.findById('b'))?.n).to.equal(2);
      await items.updateEach([]);
    });

    it('answers `in` as one query would: sorted across values, skipped, limited, counted, updated, deleted', async () => {
      for (let i = 1; i <= 6; i++)
        await items.insertOne({
          _id: `id${i}`,
          owner: `o${i % 3}`,
          n: i,
          ...(i === 6 ? {} : { email: `${i}@x` }),
        });
      const ids = (docs: Item[]) => docs.map((d) => d._id);
      const owners = q.in(['o1', 'o2', 'o2', 'nobody']);
      expect(
        ids(await items.find({ owner: owners }, { sort: [['n', -1]], skip: 1, limit: 3 })),
      ).to.deep.equal(['id4', 'id2', 'id1']);
      expect(ids(await items.find({ owner: owners, n: q.gt(2) }))).to.deep.equal(['id4', 'id5']);
      expect(ids(await items.find({ n: [q.in([1, 3, 5]), q.gte(3)] }))).to.deep.equal(['id3', 'id5']);
      expect(ids(await items.find({ email: q.in([null, '1@x']) }))).to.deep.equal(['id1', 'id6']);
      expect(await items.find({ owner: q.in([]) })).to.deep.equal([]);
      expect(await items.count({ owner: owners })).to.equal(4);
      expect(await items.updateMany({ _id: q.in(['id1', 'id2', 'gone']) }, { $inc: { n: 10 } })).to.equal(2);
      expect(ids(await items.find({ n: q.gt(10) }))).to.deep.equal(['id1', 'id2']);
      // An update that moves documents between the values must still update each once.
      expect(await items.updateMany({ owner: q.in(['o1', 'o2']) }, { $set: { owner: 'o2' } })).to.equal(4);
      expect(await items.count({ owner: 'o2' })).to.equal(4);
      expect(await items.deleteMany({ _id: q.in(['id1', 'id3', 'gone']) })).to.equal(2);
      expect(await items.count({})).to.equal(4);
    });

    it('updates and deletes many', async () => {
      for (let i = 1; i <= 4; i++) await items.insertOne({ _id: `i${i}`, owner: 'u', n: i });
      expect(await items.updateMany({ n: q.gte(3) }, { $set: { flag: true } })).to.equal(2);
      expect(await items.count({ flag: true })).to.equal(2);
      expect(await items.deleteMany({ flag: true })).to.equal(2);
      expect(await items.count({})).to.equal(2);
    });

    it('treats operator-shaped values as data, never as operators (NoSQL injection)', async () => {
      await items.insertOne({ _id: 'a', owner: 'u', n: 1 });
      const hostile = JSON.parse('{"$gt": ""}') as never;
      await expectReject(items.find({ owner: hostile }), InvalidQueryError);
      await expectReject(items.findOne({ owner: [hostile] as never }), InvalidQueryError);
      await expectReject(items.find({ $where: 'true' } as never), InvalidQueryError);
      await expectReject(items.find({ 'owner.$ne': 'x' } as never), InvalidQueryError);
      await expectReject(items.updateOne({ _id: 'a' }, { $rename: { n: 'm' } } as never), InvalidQueryError);
      // A string that looks like an operator is just a string.
      expect(await items.find({ owner: '$gt' })).to.deep.equal([]);
      await items.insertOne({ _id: 'b', owner: '{"$gt":""}', n: 2 });
      expect((await items.find({ owner: '{"$gt":""}' })).map((d) => d._id)).to.deep.equal(['b']);
    });

    it('text index: finds entries by term within the scopes asked, adds idempotently, removes', async () => {
      const text = await store.textIndex(`${collName}_text`);
      await text.add([
        { ref: 'm1', scope: 'c1', at: 1, terms: ['hello', 'world'] },
        { ref: 'm2', scope: 'c1', at: 2, terms: ['hello', 'über'] },
        { ref: 'm3', scope: 'c2', at: 3, terms: ['hello'] },
      ]);
      // Adding a ref again (a redelivered message) neither duplicates nor changes it.
      await text.add([{ ref: 'm1', scope: 'c1', at: 1, terms: ['hello', 'world'] }]);
      const refs = async (term: string, scopes: string[], limit = 100) =>
        (await text.find(term, scopes, limit)).map((h) => h.ref).sort();
      expect(await refs('hello', ['c1'])).to.deep.equal(['m1', 'm2']);
      expect(await refs('hello', ['c1', 'c2'])).to.deep.equal(['m1', 'm2', 'm3']);
      expect(await refs('über', ['c1', 'c2'])).to.deep.equal(['m2']);
      expect(await refs('world', ['c2'])).to.deep.equal([]);
      expect(await refs('hello', [])).to.deep.equal([]);
      expect(await refs('hello', ['c1', 'c2'], 2)).to.have.length(2);
      // Whole terms only, and a term is never read as query syntax.
      expect(await refs('hell', ['c1'])).to.deep.equal([]);
      expect(await refs('hello OR world', ['c1'])).to.deep.equal([]);
      expect(await refs('"', ['c1'])).to.deep.equal([]);
      const [hit] = await text.find('world', ['c1'], 10);
      expect(hit).to.deep.equal({ ref: 'm1', term: 'world', at: 1 });
      await text.remove([
        { ref: 'm1', at: 1 },
        { ref: 'nope', at: 1 },
      ]);
      expect(await refs('hello', ['c1'])).to.deep.equal(['m2']);
      expect(await refs('world', ['c1'])).to.deep.equal([]);
    });

    it('answers ping (resolves, with nothing)', async () => {
      expect(await store.ping()).to.equal(undefined);
    });
  });
}

async function expectReject<E extends Error>(
  p: Promise<unknown>,
  type: new (...args: never[]) => E,
): Promise<E> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(type);
    return err as E;
  }
  throw new Error(`expected ${type.name}`);
}
