import { expect } from 'chai';
import { q, type Filter, type FindOptions } from '@parley/common';
import { SqliteDocumentStore, type SqliteCollection } from '@parley/common/testing';
import {
  appendChange,
  ChangeMerge,
  changeHead,
  changesAfter,
  editedIds,
  folded,
  loggedData,
  replayable,
  type Change,
} from './changes.ts';
import { MessageStore } from './store.ts';

const change = (pos: number, afterSeq: number, type: Change['type'], messageSeq?: number): Change => ({
  _id: `c:${pos}`,
  conversationId: 'c',
  pos,
  afterSeq,
  ...(messageSeq !== undefined ? { messageSeq } : {}),
  type,
  eventId: `e${pos}`,
  occurredAt: '2026-01-01T00:00:00.000Z',
  data: {},
});

describe('change log: merging changes into a resume', () => {
  it('places each change after the messages stored before it, in position order', () => {
    const log = [
      change(5, 2, 'message.edited', 1),
      change(6, 3, 'reaction.changed', 1),
      change(7, 3, 'member.removed'),
      change(8, 4, 'receipt.updated'),
    ];
    const m = new ChangeMerge(log, 2, 4);
    expect(m.before(3).map((c) => c.pos)).to.deep.equal([5]);
    expect(m.pos).to.equal(5);
    expect(m.before(4).map((c) => c.pos)).to.deep.equal([6, 7]);
    expect(m.before(Infinity).map((c) => c.pos)).to.deep.equal([8]);
    expect(m.pos).to.equal(8);
  });

  it('keeps position order when a later change says an earlier seq', () => {
    const m = new ChangeMerge([change(1, 5, 'member.added'), change(2, 4, 'member.removed')], 0, 0);
    expect(m.before(5)).to.deep.equal([]);
    expect(m.before(6).map((c) => c.pos)).to.deep.equal([1, 2]);
  });

  it('folds edits and deletions of messages the replay sends whole, but not their reactions', () => {
    const log = [
      change(1, 3, 'message.edited', 3),
      change(2, 3, 'message.deleted', 3),
      change(3, 3, 'reaction.changed', 3),
      change(4, 3, 'message.edited', 2),
    ];
    const m = new ChangeMerge(log, 2, 0);
    expect(m.before(Infinity).map((c) => c.pos)).to.deep.equal([3, 4]);
    expect(m.pos, 'folded changes count as covered').to.equal(4);
    expect(folded(log[0]!, 3)).to.equal(false);
  });

  it('stops at a cut-short replay, covering only the positions sent', () => {
    const m = new ChangeMerge([change(1, 1, 'member.added'), change(2, 9, 'member.removed')], 0, 0);
    expect(m.before(6).map((c) => c.pos)).to.deep.equal([1]);
    expect(m.pos).to.equal(1);
  });
});

describe('change log: what a resume may replay', () => {
  const table: [string, Change[], number, number, boolean][] = [
    ['nothing new', [], 7, 10, true],
    ['the entries right after the position', [change(8, 0, 'member.added')], 7, 10, true],
    ['entries past the cap', [1, 2, 3].map((p) => change(p, 0, 'member.added')), 0, 2, false],
    ['exactly the cap', [1, 2].map((p) => change(p, 0, 'member.added')), 0, 2, true],
    ['a gap after the position (entries removed)', [change(9, 0, 'member.added')], 7, 10, false],
  ];
  for (const [what, log, from, cap, ok] of table)
    it(`${ok ? 'replays' : 'asks for a refetch on'} ${what}`, () =>
      expect(replayable(log, from, cap)).to.equal(ok));
});

describe('change log: what an entry keeps', () => {
  it('keeps an edit as the message id and seq only (the text is read at replay)', () => {
    const data = { message: { id: 'm1', seq: 3, body: 'secret', editCount: 2 } };
    expect(loggedData('message.edited', data)).to.deep.equal({ message: { id: 'm1', seq: 3 } });
    const reaction = { messageId: 'm1', emoji: '👍', userId: 'u', on: true };
    expect(loggedData('reaction.changed', reaction)).to.equal(reaction);
    const log = [1, 2].map((p) => ({
      ...change(p, 0, 'message.edited', 1),
      data: { message: { id: 'm1' } },
    }));
    expect(editedIds([...log, change(3, 0, 'member.added')])).to.deep.equal(['m1']);
  });
});

describe('change log on SQLite', () => {
  let docs: SqliteDocumentStore;
  let store: MessageStore;
  before(async () => {
    docs = new SqliteDocumentStore({ path: ':memory:' });
    store = await MessageStore.open(docs);
  });
  after(() => docs.close());

  const entry = (conversationId: string) => ({
    conversationId,
    afterSeq: 0,
    type: 'member.added' as const,
    eventId: 'e',
    occurredAt: '2026-01-01T00:00:00.000Z',
    data: {},
  });

  it('appends at consecutive positions, also when appends race, and keeps the last `retain`', async () => {
    const got = await Promise.all(
      Array.from({ length: 6 }, () => appendChange(store.changes, entry('c1'), 4)),
    );
    expect([...got].sort((a, b) => a - b)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(await changeHead(store.changes, 'c1')).to.equal(6);
    expect((await changesAfter(store.changes, 'c1', 0, 100)).map((c) => c.pos)).to.deep.equal([3, 4, 5, 6]);
    expect(await changeHead(store.changes, 'c2')).to.equal(0);
  });

  const cases: [string, Filter, FindOptions][] = [
    ['head', { conversationId: 'c1', pos: q.gt(0) }, { sort: [['pos', -1]], limit: 1 }],
    ['entries after a position', { conversationId: 'c1', pos: q.gt(3) }, { sort: [['pos', 1]], limit: 1001 }],
  ];
  for (const [name, filter, opts] of cases)
    it(`${name}: searches the (conversationId, pos) index and sorts nothing`, () => {
      const p = (store.changes as unknown as SqliteCollection<Change>).explainFind(filter, opts).join('; ');
      expect(p).to.match(/SEARCH .* USING INDEX ix_conversation_changes_conv_pos/);
      expect(p).not.to.include('TEMP B-TREE');
    });
});
