import { expect } from 'chai';
import { q, type Filter, type FindOptions } from '@parley/common';
import { SqliteDocumentStore, type SqliteCollection } from '@parley/common/testing';
import { messageStoreContract } from './store.contract.ts';
import { MessageStore, type Expiry, type Message } from './store.ts';
import { NEVER } from './envelopes.ts';

messageStoreContract('SQLite (embedded)', async () => new SqliteDocumentStore({ path: ':memory:' }));

describe('MessageStore on SQLite: the hot reads use their indexes', () => {
  let docs: SqliteDocumentStore;
  let plan: (filter: Filter, opts?: FindOptions) => string;
  before(async () => {
    docs = new SqliteDocumentStore({ path: ':memory:' });
    const store = await MessageStore.open(docs);
    plan = (filter, opts) =>
      (store.messages as unknown as SqliteCollection<Message>).explainFind(filter, opts).join('; ');
  });
  after(() => docs.close());

  // SQLite names the index it searches ("SEARCH … USING INDEX ix_messages_conv_seq (…)"), and
  // adds "USE TEMP B-TREE FOR ORDER BY" when it has to sort rows the index did not order.
  const cases: [string, Filter, FindOptions][] = [
    ['lastSeq', { conversationId: 'c1', seq: q.gt(0) }, { sort: [['seq', -1]], limit: 1 }],
    [
      'history after a seq',
      { conversationId: 'c1', seq: q.gt(10), expiresAt: q.gt(0) },
      { sort: [['seq', 1]], limit: 50 },
    ],
    [
      'history before a seq',
      { conversationId: 'c1', seq: q.lt(10), expiresAt: q.gt(0) },
      { sort: [['seq', -1]], limit: 50 },
    ],
  ];
  it('the expiry sweep searches the list of messages that expire', async () => {
    const expiries = await docs.collection<Expiry>('message_expiries');
    const p = (expiries as unknown as SqliteCollection<Expiry>)
      .explainFind({ expiresAt: q.lte(Date.now()) }, { sort: [['expiresAt', 1]], limit: 1000 })
      .join('; ');
    expect(p).to.match(/SEARCH .* USING INDEX ix_message_expiries_due/);
  });

  for (const [name, filter, opts] of cases)
    it(`${name}: searches an index of messages and sorts nothing`, () => {
      const p = plan(filter, opts);
      expect(p).to.match(/SEARCH .* USING INDEX ix_messages_conv_seq/);
      expect(p).not.to.include('TEMP B-TREE');
    });
});

describe('MessageStore on SQLite: migrations', () => {
  it('drops the (conversation, sender, clientMsgId) index an older version made', async () => {
    const docs = new SqliteDocumentStore({ path: ':memory:' });
    try {
      await docs.collection('messages', [
        {
          name: 'idempotency',
          fields: [
            ['conversationId', 1],
            ['senderId', 1],
            ['clientMsgId', 1],
          ],
          unique: true,
        },
      ]);
      const indexes = () =>
        (
          docs.handle.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all() as {
            name: string;
          }[]
        ).map((r) => r.name);
      expect(indexes()).to.include('ix_messages_idempotency');
      await MessageStore.open(docs);
      expect(indexes()).to.not.include('ix_messages_idempotency');
      expect(indexes()).to.include('ix_messages_conv_seq');
    } finally {
      await docs.close();
    }
  });
});

describe('MessageStore on SQLite: the list of messages that expire', () => {
  it('an older store (an expiresAt index on every message) has its expiring messages listed, then loses that index', async () => {
    const docs = new SqliteDocumentStore({ path: ':memory:' });
    try {
      const old = await docs.collection<Message>('messages', [
        { name: 'expiry', fields: [['expiresAt', 1]] },
      ]);
      const at = Date.now() + 60_000;
      const message = (seq: number, expiresAt: number): Message => ({
        _id: `m${seq}`,
        conversationId: 'c1',
        seq,
        senderId: 'u1',
        clientMsgId: `k${seq}`,
        body: 'x',
        createdAt: new Date().toISOString(),
        acceptedAt: 0,
        expiresAt,
        editCount: 0,
      });
      // More than a page (1,000) at one instant, so the copy pages within an instant, then later.
      const expiring = [
        ...Array.from({ length: 1_500 }, (_, i) => message(i + 1, at)),
        ...Array.from({ length: 700 }, (_, i) => message(2_001 + i, at + 1 + (i % 3))),
      ];
      await old.insertMany([
        ...expiring,
        ...Array.from({ length: 300 }, (_, i) => message(5_001 + i, NEVER)),
      ]);
      expect(await docs.hasIndex('messages', 'expiry')).to.equal(true);

      const store = await MessageStore.open(docs);
      expect(await docs.hasIndex('messages', 'expiry')).to.equal(false);
      const listed = await store.expiries.find({}, { limit: 10_000 });
      expect(listed.map((e) => e._id).sort()).to.deep.equal(expiring.map((m) => m._id).sort());
      expect(listed.every((e) => e.expiresAt >= at && e.conversationId === 'c1')).to.equal(true);
      // Opened again: nothing is copied twice (the index is gone, the copy does not run).
      await MessageStore.open(docs);
      expect(await store.expiries.count({})).to.equal(expiring.length);
    } finally {
      await docs.close();
    }
  });
});
