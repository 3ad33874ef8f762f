import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createLogger, waitFor, type Subscription } from '@parley/common';
import { Registry } from 'prom-client';
import type { ChatEvent, ChatEventType } from '../domain/envelopes.ts';
import { sendCommandJson } from '../testing/seed.ts';
import { MessageStore } from '../domain/store.ts';
import type { BatchWorld } from './batch.contract.ts';
import { DeadLetters } from './deadletters.ts';
import { Persister, WorkerMetrics } from './worker.ts';

/**
 * `npm run dlq` (#21): list shows what is pending, drop moves past it, and replay sends it back
 * to the worker idempotently: a command replayed twice (or dead-lettered twice by an older worker)
 * is stored once and announced once. Run with a live worker on the embedded log and on Kafka.
 */
export function deadLettersContract(name: string, open: () => Promise<BatchWorld>): void {
  describe(`dead letters (npm run dlq): ${name}`, function () {
    this.timeout(120_000);
    const logger = createLogger({ level: 'silent', name: 'test' });
    let world: BatchWorld;
    let store: MessageStore;
    let topics: { messages: string; events: string; dlq: string };
    let subs: Subscription[];
    let created: ChatEvent[];

    before(async () => {
      world = await open();
      store = await MessageStore.open(world.store);
    });
    after(async () => world?.close());
    beforeEach(async () => {
      const t = `dlq-${randomUUID().slice(0, 8)}`;
      topics = { messages: `${t}.chat.messages`, events: `${t}.chat.events`, dlq: `${t}.chat.messages.dlq` };
      await world.events.ensureTopics(Object.values(topics).map((name) => ({ name, partitions: 2 })));
      const persister = new Persister(
        store,
        world.events,
        world.cache,
        { topicEvents: topics.events, topicDlq: topics.dlq },
        logger,
        new WorkerMetrics(new Registry()),
      );
      created = [];
      subs = [
        await world.events.subscribe({
          groupId: `${t}-worker`,
          topics: [topics.messages],
          fromBeginning: true,
          handler: (b) => persister.handle(b),
        }),
        await world.events.subscribe({
          groupId: `${t}-events`,
          topics: [topics.events],
          fromBeginning: true,
          handler: async (b) =>
            void created.push(
              ...b
                .map((r) => JSON.parse(r.value.toString()) as ChatEvent)
                .filter((e) => e.type === ('message.created' satisfies ChatEventType)),
            ),
        }),
      ];
    });
    afterEach(async () => {
      for (const s of subs) await s.stop();
    });

    const tool = () => new DeadLetters(world.events, { ...topics, group: `${topics.dlq}.tool` }, 60_000);
    const command = (conversationId: string, clientMsgId: string) =>
      sendCommandJson(conversationId, clientMsgId);
    /** A dead letter as an older worker wrote it (after WORKER_MAX_ATTEMPTS failures of its store). */
    const deadLetter = (conversationId: string, value: string, reason = 'attempts') => ({
      key: conversationId,
      value,
      headers: {
        'command-type': 'message.send',
        'dlq-reason': reason,
        'dlq-detail': 'connection refused',
        'dlq-source': `${topics.messages}/0/${Math.floor(Math.random() * 1000)}`,
        'dlq-at': new Date().toISOString(),
      },
    });

    it('lists the pending records without moving past them, and drop moves past them', async () => {
      const conv = randomUUID();
      await world.events.produce(topics.dlq, [
        deadLetter(conv, '{"not": "a command"', 'unparseable'),
        deadLetter(conv, command(conv, 'x1')),
      ]);
      const listed = await tool().list();
      expect(listed.records.map((r) => [r.key, r.reason])).to.deep.equal([
        [conv, 'unparseable'],
        [conv, 'attempts'],
      ]);
      expect((await tool().list()).records).to.have.length(2);
      expect((await tool().drop()).handled).to.equal(2);
      expect((await tool().list()).records).to.deep.equal([]);
      expect((await tool().replay()).handled).to.equal(0);
      expect(await store.messages.count({ conversationId: conv })).to.equal(0);
    });

    it('replays dead letters to the worker, which stores each once and announces it once, however often it is replayed', async () => {
      const conv = randomUUID();
      // The same command dead-lettered twice, and one more.
      await world.events.produce(topics.dlq, [
        deadLetter(conv, command(conv, 'm1')),
        deadLetter(conv, command(conv, 'm1')),
        deadLetter(conv, command(conv, 'm2')),
      ]);
      expect((await tool().replay()).handled).to.equal(3);
      const stored = async () =>
        (await store.messages.find({ conversationId: conv }, { sort: [['seq', 1]] })).map((m) => [
          m.seq,
          m.clientMsgId,
        ]);
      await waitFor(async () => (await stored()).length === 2, { what: 'replayed messages stored' });
      // Dead-lettered again after the fix, and replayed again: nothing changes.
      await world.events.produce(topics.dlq, [deadLetter(conv, command(conv, 'm1'))]);
      expect((await tool().replay()).handled).to.equal(1);
      await waitFor(() => created.filter((e) => e.conversationId === conv).length >= 2, { what: 'events' });
      await world.events.produce(topics.messages, [{ key: conv, value: command(conv, 'marker') }]);
      await waitFor(async () => (await stored()).length === 3, { what: 'the marker after the replays' });
      expect(await stored()).to.deep.equal([
        [1, 'm1'],
        [2, 'm2'],
        [3, 'marker'],
      ]);
      const announced = created.filter((e) => e.conversationId === conv).map((e) => e.data.clientMsgId);
      expect(announced).to.deep.equal(['m1', 'm2', 'marker']);
      expect((await tool().list()).records).to.deep.equal([]);
    });
  });
}
