import { expect } from 'chai';
import { createLogger } from '@parley/common';
import { Recipients } from './recipients.ts';
import type { MessageStore } from '../domain/store.ts';

/** A store whose members the test changes, counting reads. */
function fakeStore(members: Record<string, string[]>) {
  let reads = 0;
  const store = {
    memberIdsOf: async (conversationId: string) => {
      reads++;
      return [...(members[conversationId] ?? [])];
    },
  } as unknown as MessageStore;
  return { store, reads: () => reads };
}

const logger = createLogger({ level: 'silent', name: 'test' });

describe('Recipients (the worker’s members cache)', () => {
  it('reads a conversation once while cached, and again once an invalidation names it', async () => {
    const members: Record<string, string[]> = { c1: ['alice', 'bob'], c2: ['carol'] };
    const { store, reads } = fakeStore(members);
    const r = new Recipients(store, { ttlMs: 60_000, maxEntries: 100 }, logger);
    expect(await r.of('c1')).to.deep.equal(['alice', 'bob']);
    expect(await r.of('c1')).to.deep.equal(['alice', 'bob']);
    await r.of('c2');
    expect(reads()).to.equal(2);
    members.c1 = ['alice', 'bob', 'dave'];
    r.onInvalidation(JSON.stringify({ conversationId: 'c1', userId: 'dave' }));
    expect(await r.of('c1')).to.deep.equal(['alice', 'bob', 'dave']);
    expect(reads()).to.equal(3);
    // A block names only a user: recipients do not change.
    r.onInvalidation(JSON.stringify({ userId: 'carol' }));
    await r.of('c2');
    expect(reads()).to.equal(3);
  });

  it('a removed member is no longer named once the removal’s invalidation arrives', async () => {
    const members: Record<string, string[]> = { g: ['alice', 'bob', 'eve'] };
    const { store } = fakeStore(members);
    const r = new Recipients(store, { ttlMs: 60_000, maxEntries: 100 }, logger);
    expect(await r.of('g')).to.include('eve');
    members.g = ['alice', 'bob'];
    r.onInvalidation(JSON.stringify({ conversationId: 'g', userId: 'eve' }));
    expect(await r.of('g')).to.deep.equal(['alice', 'bob']);
  });

  it('without an invalidation, trusts a conversation’s members for ttlMs at most', async () => {
    const members: Record<string, string[]> = { g: ['alice', 'eve'] };
    const { store } = fakeStore(members);
    const r = new Recipients(store, { ttlMs: 30, maxEntries: 100 }, logger);
    await r.of('g');
    members.g = ['alice'];
    expect(await r.of('g')).to.deep.equal(['alice', 'eve']);
    await new Promise((res) => setTimeout(res, 40));
    expect(await r.of('g')).to.deep.equal(['alice']);
  });

  it('ignores malformed invalidations, and keeps at most maxEntries conversations', async () => {
    const { store } = fakeStore({});
    const r = new Recipients(store, { ttlMs: 60_000, maxEntries: 3 }, logger);
    for (const m of ['not json', 'null', '[1]', '{"conversationId": 5}']) r.onInvalidation(m);
    for (const c of ['a', 'b', 'c', 'd', 'e']) await r.of(c);
    expect(r.size).to.equal(3);
  });
});
