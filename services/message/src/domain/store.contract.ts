import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { DocumentStore } from '@parley/common';
import { listExpiring, sweepExpired } from '../worker/expiry.ts';
import { messageIdFor, NEVER, type SendCommand } from './envelopes.ts';
import { indexMessage } from './search.ts';
import { MessageStore, type Message } from './store.ts';

function message(conversationId: string, seq: number, over: Partial<Message> = {}): Message {
  return {
    _id: randomUUID(),
    conversationId,
    seq,
    senderId: 's',
    clientMsgId: randomUUID(),
    body: 'b',
    createdAt: new Date().toISOString(),
    acceptedAt: Date.now(),
    expiresAt: NEVER,
    editCount: 0,
    ...over,
  };
}

/** The message store's own methods and indexes, run against every document store adapter. */
export function messageStoreContract(name: string, open: () => Promise<DocumentStore>): void {
  describe(`MessageStore contract: ${name}`, function () {
    this.timeout(20_000);
    let ds: DocumentStore;
    let store: MessageStore;
    before(async () => {
      ds = await open();
      store = await MessageStore.open(ds);
    });
    after(() => ds?.close());

    it('reports the last seq of a conversation, 0 when it has none', async () => {
      const conv = randomUUID();
      expect(await store.lastSeq(conv)).to.equal(0);
      for (const seq of [1, 2, 3]) await store.messages.insertOne(message(conv, seq));
      expect(await store.lastSeq(conv)).to.equal(3);
    });

    it('refuses a second message with the same seq or the same (sender, clientMsgId)', async () => {
      const conv = randomUUID();
      // The id is derived from (conversation, sender, clientMsgId), as every stored message's is:
      // a re-send collides on it.
      const withId = (seq: number, clientMsgId: string) =>
        message(conv, seq, { _id: messageIdFor(conv, 's', clientMsgId), clientMsgId });
      const first = withId(1, 'first');
      await store.messages.insertOne(first);
      expect(await store.insertIfAbsent(store.messages, withId(1, 'other'))).to.equal(false);
      expect(await store.insertIfAbsent(store.messages, withId(2, 'first'))).to.equal(false);
      expect(await store.insertIfAbsent(store.messages, withId(2, 'other'))).to.equal(true);
    });

    it('keeps no (conversation, sender, clientMsgId) index: the id does its work', async () => {
      const conv = randomUUID();
      // Two ids with one clientMsgId (no stored message has such ids) both go in.
      await store.messages.insertOne(message(conv, 1, { clientMsgId: 'same' }));
      await store.messages.insertOne(message(conv, 2, { clientMsgId: 'same' }));
      expect(await store.messages.count({ conversationId: conv })).to.equal(2);
      // The store outlives a run on the real stack: leave nothing an older index would refuse.
      await store.messages.deleteMany({ conversationId: conv });
    });

    it('keeps one direct conversation per pair', async () => {
      const directKey = `${randomUUID()}:${randomUUID()}`;
      const now = new Date().toISOString();
      const conv = (id: string) => ({
        _id: id,
        type: 'direct' as const,
        directKey,
        createdBy: 'x',
        createdAt: now,
        updatedAt: now,
      });
      expect(await store.insertIfAbsent(store.conversations, conv(randomUUID()))).to.equal(true);
      expect(await store.insertIfAbsent(store.conversations, conv(randomUUID()))).to.equal(false);
    });

    it('finds memberships, members of a conversation and blocks', async () => {
      const conv = randomUUID();
      const [u1, u2] = [randomUUID(), randomUUID()];
      for (const u of [u1, u2])
        await store.members.insertOne({
          _id: store.memberId(conv, u),
          conversationId: conv,
          userId: u,
          role: 'member',
          joinedAt: 'x',
          readSeq: 0,
          deliveredSeq: 0,
        });
      expect((await store.membership(conv, u1))?.userId).to.equal(u1);
      expect(await store.membership(conv, randomUUID())).to.equal(null);
      expect((await store.membersOf(conv)).map((m) => m.userId).sort()).to.deep.equal([u1, u2].sort());
      await store.blocks.insertOne({ _id: `${u1}:${u2}`, blockerId: u1, blockedId: u2, at: 'x' });
      expect(await store.isBlocked(u1, u2)).to.equal(true);
      expect(await store.isBlocked(u2, u1)).to.equal(false);
    });

    it('hides expired messages from visible reads', async () => {
      const conv = randomUUID();
      await store.messages.insertOne(message(conv, 1, { expiresAt: Date.now() - 1 }));
      await store.messages.insertOne(message(conv, 2));
      const seen = await store.messages.find({ conversationId: conv, ...store.visible() });
      expect(seen.map((m) => m.seq)).to.deep.equal([2]);
    });

    it('the expiry sweep deletes expired messages with their search entries, and only those', async () => {
      const conv = randomUUID();
      const gone = message(conv, 1, { body: 'ephemeral words', expiresAt: Date.now() - 1 });
      const later = message(conv, 2, { body: 'ephemeral later', expiresAt: Date.now() + 60_000 });
      const kept = message(conv, 3, { body: 'ephemeral kept' });
      for (const m of [gone, later, kept]) {
        await store.messages.insertOne(m);
        await indexMessage(store, m);
      }
      await listExpiring(
        store,
        [gone, later].map((m) => ({
          command: { id: m._id, conversationId: conv, expiresAt: m.expiresAt } as SendCommand,
        })),
        new Map(),
      );
      // The sweep is store-wide: a shared store may hold other runs' due messages, so this asserts
      // on this conversation's messages rather than on the count alone.
      expect(await sweepExpired(store)).to.be.at.least(1);
      const hits = async (term: string) => (await store.text.find(term, [conv], 10)).map((h) => h.ref).sort();
      expect(await hits('ephemeral')).to.deep.equal([later._id, kept._id].sort());
      expect(await hits('words')).to.deep.equal([]);
      expect(await store.messages.findById(gone._id)).to.equal(null);
      // Once `later` is due too, a sweep takes it and its entry; a second finds nothing.
      expect(await sweepExpired(store, Date.now() + 120_000)).to.be.at.least(1);
      expect(await hits('ephemeral')).to.deep.equal([kept._id]);
      expect(await store.messages.findById(later._id)).to.equal(null);
      expect(await store.messages.findById(kept._id)).to.not.equal(null);
      expect(await store.expiries.find({ conversationId: conv })).to.deep.equal([]);
    });
  });
}
