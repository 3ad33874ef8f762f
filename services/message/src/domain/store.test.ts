import { expect } from 'chai';
import { q, type Filter, type FindOptions } from '@parley/common';
import { SqliteDocumentStore, type SqliteCollection } from '@parley/common/testing';
import { messageStoreContract } from './store.contract.ts';
import { MessageStore, type Message } from './store.ts';

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
