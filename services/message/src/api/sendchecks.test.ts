import { expect } from 'chai';
import { createLogger, type ProblemError } from '@parley/common';
import { MemoryCache, SqliteDocumentStore, sqliteStats } from '@parley/common/testing';
import { Access } from '../domain/access.ts';
import { MessageStore } from '../domain/store.ts';
import { principal, seedDirect } from '../testing/seed.ts';
import { SEND_CHECKS_CHANNEL, SendChecks } from './sendchecks.ts';

const logger = createLogger({ level: 'silent', name: 'test' });
const alice = principal('alice');
const bob = principal('bob');
const TTL = 30_000;

describe('SendChecks: the send path reads membership and blocks once, and forgets them on change', () => {
  let docs: SqliteDocumentStore;
  let store: MessageStore;
  let cache: MemoryCache;
  let a: SendChecks;
  let b: SendChecks;
  const statements = async (fn: () => Promise<unknown>) => {
    const before = sqliteStats.statements;
    await fn();
    return sqliteStats.statements - before;
  };
  const refused = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return (err as ProblemError).code;
    }
    return 'allowed';
  };

  beforeEach(async () => {
    docs = new SqliteDocumentStore({ path: ':memory:' });
    store = await MessageStore.open(docs);
    cache = new MemoryCache();
    await seedDirect(store, 'd1', ['alice', 'bob']);
    // Two API processes sharing pub/sub.
    const make = () =>
      new SendChecks(store, new Access(store), { ttlMs: TTL, maxEntries: 1000 }, logger, (m) =>
        cache.publish(SEND_CHECKS_CHANNEL, m),
      );
    a = make();
    b = make();
    await cache.subscribe(SEND_CHECKS_CHANNEL, (m) => a.onInvalidation(m));
    await cache.subscribe(SEND_CHECKS_CHANNEL, (m) => b.onInvalidation(m));
  });
  afterEach(async () => {
    await cache.close();
    await docs.close();
  });

  it('answers a repeated check without a store read', async () => {
    expect(await statements(() => a.get(alice, 'd1'))).to.be.greaterThan(0);
    expect(await statements(() => a.get(alice, 'd1'))).to.equal(0);
    expect((await a.get(alice, 'd1')).blocked).to.equal(false);
  });

  it('refuses a removed member on every process once the removal is published', async () => {
    await Promise.all([a.get(alice, 'd1'), b.get(alice, 'd1')]);
    await store.members.deleteMany({ _id: store.memberId('d1', 'alice') });
    await a.invalidate({ conversationId: 'd1', userId: 'alice' });
    await new Promise((r) => setImmediate(r));
    expect(await refused(a.get(alice, 'd1'))).to.equal('CONVERSATION_NOT_FOUND');
    expect(await refused(b.get(alice, 'd1'))).to.equal('CONVERSATION_NOT_FOUND');
  });

  it('sees a block, and its removal, through the blocked user’s scope', async () => {
    await b.get(alice, 'd1');
    await store.blocks.insertOne({ _id: 'bob:alice', blockerId: 'bob', blockedId: 'alice', at: 'x' });
    await a.invalidate({ userId: 'alice' });
    await new Promise((r) => setImmediate(r));
    expect((await b.get(alice, 'd1')).blocked).to.equal(true);
    // Bob's own checks were not touched.
    await store.blocks.deleteMany({ _id: 'bob:alice' });
    await a.invalidate({ userId: 'alice' });
    await new Promise((r) => setImmediate(r));
    expect((await b.get(alice, 'd1')).blocked).to.equal(false);
  });

  it('without an invalidation (a lost pub/sub message), trusts a check for the TTL and no longer', async () => {
    const t0 = Date.now();
    await a.get(alice, 'd1', t0);
    await store.members.deleteMany({ _id: store.memberId('d1', 'alice') });
    expect(await refused(a.get(alice, 'd1', t0 + TTL - 1))).to.equal('allowed');
    expect(await refused(a.get(alice, 'd1', t0 + TTL))).to.equal('CONVERSATION_NOT_FOUND');
  });

  it('never caches a refusal: a member added after one may send at once', async () => {
    expect(await refused(a.get(principal('carol'), 'd1'))).to.equal('CONVERSATION_NOT_FOUND');
    await store.members.insertOne({
      _id: store.memberId('d1', 'carol'),
      conversationId: 'd1',
      userId: 'carol',
      role: 'member',
      joinedAt: 'x',
      readSeq: 0,
      deliveredSeq: 0,
    });
    expect(await refused(a.get(principal('carol'), 'd1'))).to.equal('allowed');
    expect(a.size).to.equal(1);
  });

  it('ignores a malformed invalidation and forgets only what a scope names', async () => {
    await Promise.all([a.get(alice, 'd1'), a.get(bob, 'd1')]);
    a.onInvalidation('not json');
    a.onInvalidation('{}');
    expect(a.size).to.equal(2);
    a.onInvalidation(JSON.stringify({ userId: 'bob' }));
    expect(a.size).to.equal(1);
    expect(await statements(() => a.get(alice, 'd1'))).to.equal(0);
  });
});
