import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import {
  createLogger,
  waitFor,
  type Cache,
  type ConsumedRecord,
  type DocumentStore,
  type EventLog,
  type Subscription,
} from '@parley/common';
import { Registry } from 'prom-client';
import type { ChatEvent, SendCommand } from '../domain/envelopes.ts';
import { sendCommandJson } from '../testing/seed.ts';
import { MessageStore } from '../domain/store.ts';
import { Persister, WorkerMetrics } from './worker.ts';
import { sweepExpired } from './expiry.ts';

export interface BatchWorld {
  store: DocumentStore;
  events: EventLog;
  cache: Cache;
  close(): Promise<void>;
}

/**
 * Whole batches keep the worker's promises (#19): per-conversation order, gap-free seqs, and
 * idempotency on redelivery, with several conversations interleaved in one batch and a crash
 * between the batch insert and the events. Run on the embedded log with SQLite and on Kafka with
 * FerretDB; the batches are handed to the persister as a consumer would hand them.
 */
export function batchContract(name: string, open: () => Promise<BatchWorld>): void {
  describe(`worker batches: ${name}`, function () {
    this.timeout(60_000);
    let world: BatchWorld;
    let store: MessageStore;
    let topicEvents: string;
    let seen: ChatEvent[];
    let sub: Subscription;
    let offset = 0;
    const logger = createLogger({ level: 'silent', name: 'test' });

    before(async () => {
      world = await open();
      store = await MessageStore.open(world.store);
    });
    after(async () => world?.close());
    beforeEach(async () => {
      topicEvents = `t-${randomUUID().slice(0, 8)}.chat.events`;
      await world.events.ensureTopics([
        { name: topicEvents, partitions: 2 },
        { name: `${topicEvents}.dlq`, partitions: 1 },
      ]);
      seen = [];
      sub = await world.events.subscribe({
        groupId: `g-${randomUUID()}`,
        topics: [topicEvents],
        fromBeginning: true,
        handler: async (b) => void seen.push(...b.map((r) => JSON.parse(r.value.toString()) as ChatEvent)),
      });
    });
    afterEach(async () => sub?.stop());

    /**
     * A persister as a (re)started worker has it: no caches. On the embedded log the state joins
     * the events' commit, as embedded mode runs it.
     */
    const persister = (events: EventLog = world.events) =>
      new Persister(
        store,
        events,
        world.cache,
        {
          topicEvents,
          topicDlq: `${topicEvents}.dlq`,
          eventsCommitWithStore: world.events.kind === 'embedded',
        },
        logger,
        new WorkerMetrics(new Registry()),
      );
    const command = (conversationId: string, clientMsgId: string): ConsumedRecord => {
      return {
        topic: 'chat.messages',
        partition: 0,
        offset: String(offset++),
        key: conversationId,
        value: Buffer.from(sendCommandJson(conversationId, clientMsgId)),
        headers: {},
        timestamp: Date.now(),
      };
    };
    const stored = async (conversationId: string) =>
      (await store.messages.find({ conversationId }, { sort: [['seq', 1]] })).map((m) => [
        m.seq,
        m.clientMsgId,
      ]);
    /** message.created events of a conversation, as (seq, clientMsgId), once `last` has arrived. */
    const announced = async (conversationId: string, last: string) => {
      const of = () =>
        seen
          .filter((e) => e.conversationId === conversationId && e.type === 'message.created')
          .map((e) => [(e.data as { seq: number }).seq, (e.data as { clientMsgId: string }).clientMsgId]);
      await waitFor(() => of().some(([, id]) => id === last), { what: `event for ${last}` });
      return of();
    };

    it('stores two conversations interleaved in one batch, each in record order, gap-free', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      await persister().handle([
        command(a, 'a1'),
        command(b, 'b1'),
        command(a, 'a2'),
        command(b, 'b2'),
        command(a, 'a3'),
      ]);
      expect(await stored(a)).to.deep.equal([
        [1, 'a1'],
        [2, 'a2'],
        [3, 'a3'],
      ]);
      expect(await stored(b)).to.deep.equal([
        [1, 'b1'],
        [2, 'b2'],
      ]);
      expect(await announced(a, 'a3')).to.deep.equal([
        [1, 'a1'],
        [2, 'a2'],
        [3, 'a3'],
      ]);
      expect((await store.states.findById(a))?.lastSeq).to.equal(3);
    });

    it('a redelivered batch stores nothing twice and announces nothing again', async () => {
      const a = randomUUID();
      const batch = [command(a, 'a1'), command(a, 'a2'), command(a, 'a1')];
      const w = persister();
      await w.handle(batch);
      await w.handle(batch);
      // And once more on a restarted worker, whose caches are empty.
      await persister().handle(batch);
      await persister().handle([command(a, 'a3')]);
      expect(await stored(a)).to.deep.equal([
        [1, 'a1'],
        [2, 'a2'],
        [3, 'a3'],
      ]);
      expect(await announced(a, 'a3')).to.deep.equal([
        [1, 'a1'],
        [2, 'a2'],
        [3, 'a3'],
      ]);
    });

    it('after a crash between the batch insert and its events, the redelivery announces what was stored, gap-free', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const batch = [command(a, 'a1'), command(b, 'b1'), command(a, 'a2'), command(a, 'a3')];
      // The crash: the ordered insert had stored a prefix (a1, b1, a2), then the process died
      // before the events, the state and the offsets.
      const prefix = batch.slice(0, 3).map((r) => JSON.parse(r.value.toString()) as SendCommand);
      const seqs = new Map<string, number>();
      expect(
        await store.messages.insertOrdered(
          prefix.map((c) => {
            const seq = (seqs.get(c.conversationId) ?? 0) + 1;
            seqs.set(c.conversationId, seq);
            return {
              _id: c.id,
              conversationId: c.conversationId,
              seq,
              senderId: c.senderId,
              clientMsgId: c.clientMsgId,
              body: c.body!,
              createdAt: new Date().toISOString(),
              acceptedAt: c.acceptedAt,
              expiresAt: Number.MAX_SAFE_INTEGER,
              editCount: 0,
            };
          }),
        ),
      ).to.equal(3);
      await persister().handle(batch);
      expect(await stored(a)).to.deep.equal([
        [1, 'a1'],
        [2, 'a2'],
        [3, 'a3'],
      ]);
      expect(await stored(b)).to.deep.equal([[1, 'b1']]);
      expect(await announced(a, 'a3')).to.deep.equal([
        [1, 'a1'],
        [2, 'a2'],
        [3, 'a3'],
      ]);
      expect(await announced(b, 'b1')).to.deep.equal([[1, 'b1']]);
    });

    it('when the events cannot be appended, the batch fails, and its redelivery announces it all, once', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      await persister().handle([command(a, 'a1')]);
      let refuse = true;
      const flaky: EventLog = {
        ...world.events,
        kind: world.events.kind,
        produce: (topic, records) =>
          refuse && topic === topicEvents
            ? Promise.reject(new Error('event log refused the append'))
            : world.events.produce(topic, records),
      };
      const w = persister(flaky);
      const batch = [command(a, 'a2'), command(b, 'b1'), command(a, 'a3')];
      const failed = await w.handle(batch).then(
        () => null,
        (err: unknown) => err,
      );
      expect(String(failed)).to.match(/refused the append/);
      // Stored, but the state does not say announced: a re-send would announce it.
      expect(await stored(a)).to.deep.equal([
        [1, 'a1'],
        [2, 'a2'],
        [3, 'a3'],
      ]);
      expect((await store.states.findById(a))?.emittedSeq).to.equal(1);
      refuse = false;
      await w.handle(batch);
      expect(await announced(a, 'a3')).to.deep.equal([
        [1, 'a1'],
        [2, 'a2'],
        [3, 'a3'],
      ]);
      expect(await announced(b, 'b1')).to.deep.equal([[1, 'b1']]);
      expect((await store.states.findById(a))?.emittedSeq).to.equal(3);
    });

    it('a stale seq guess (another worker stored meanwhile) is repaired for the rest of the batch', async () => {
      const a = randomUUID();
      const w = persister();
      await w.handle([command(a, 'a1')]);
      // Another worker (a rebalance) stored a2 and a3; this one's cache still says 1.
      await persister().handle([command(a, 'a2'), command(a, 'a3')]);
      await w.handle([command(a, 'a4'), command(a, 'a5')]);
      expect(await stored(a)).to.deep.equal([
        [1, 'a1'],
        [2, 'a2'],
        [3, 'a3'],
        [4, 'a4'],
        [5, 'a5'],
      ]);
    });

    it('lists a disappearing message before storing it; the sweep deletes it, its reactions, stars and terms once due, and nothing else', async () => {
      const a = randomUUID();
      const now = Date.now();
      const expiring = (clientMsgId: string, expiresAt: number): ConsumedRecord => {
        const r = command(a, clientMsgId);
        const c = JSON.parse(r.value.toString()) as SendCommand;
        return { ...r, value: Buffer.from(JSON.stringify({ ...c, expiresAt })) };
      };
      await persister().handle([
        expiring('soon', now + 1_000),
        command(a, 'stays'),
        expiring('later', now + 3_600_000),
      ]);
      const [soon, stays, later] = await store.messages.find({ conversationId: a }, { sort: [['seq', 1]] });
      expect(
        (await store.expiries.find({ conversationId: a }, { sort: [['expiresAt', 1]] })).map((e) => e._id),
      ).to.deep.equal([soon!._id, later!._id]);
      for (const m of [soon!, stays!])
        await store.reactions.insertOne({
          _id: `${m._id}:u`,
          messageId: m._id,
          conversationId: a,
          userId: 'u',
          emoji: '👍',
          at: 'x',
        });
      await store.stars.insertOne({
        _id: `u:${soon!._id}`,
        messageId: soon!._id,
        conversationId: a,
        userId: 'u',
        at: 'x',
      });
      expect((await store.text.find('body', [a], 10)).length).to.equal(3);

      // The store may hold other tests' disappearing messages: counts are at least, the rest is
      // read from this conversation.
      await sweepExpired(store, now);
      expect(
        (await stored(a)).map(([, id]) => id),
        'nothing due yet',
      ).to.deep.equal(['soon', 'stays', 'later']);
      expect(await sweepExpired(store, now + 2_000)).to.be.at.least(1);
      expect((await stored(a)).map(([, id]) => id)).to.deep.equal(['stays', 'later']);
      expect((await store.reactions.find({ conversationId: a })).map((r) => r.messageId)).to.deep.equal([
        stays!._id,
      ]);
      expect(await store.stars.count({ conversationId: a })).to.equal(0);
      expect((await store.text.find('body', [a], 10)).map((h) => h.ref).sort()).to.deep.equal(
        [stays!._id, later!._id].sort(),
      );
      expect((await store.expiries.find({ conversationId: a })).map((e) => e._id)).to.deep.equal([
        later!._id,
      ]);
      await sweepExpired(store, now + 2_000);
      expect(
        (await stored(a)).map(([, id]) => id),
        'a second sweep changes nothing',
      ).to.deep.equal(['stays', 'later']);
    });
  });
}
