import { expect } from 'chai';
import { createLogger, waitFor, type ConsumedRecord, type Subscription } from '@parley/common';
import type { EmbeddedEventLog, MemoryCache } from '@parley/common/testing';
import { Registry } from 'prom-client';
import { openEmbeddedWorld, sendCommandJson, type EmbeddedWorld } from '../testing/seed.ts';
import type { MessageStore } from '../domain/store.ts';
import { Persister, WorkerMetrics } from './worker.ts';

const logger = createLogger({ level: 'silent', name: 'test' });
const conv = '3e0c5a1b-7d2f-4c8e-9b6a-0f1e2d3c4b5a';
const TOPIC = 'chat.messages';
const EVENTS = 'chat.events';
const DLQ = 'chat.messages.dlq';

const command = (clientMsgId: string, acceptedAt = Date.now()) =>
  sendCommandJson(conv, clientMsgId, acceptedAt);

/**
 * The DLQ holds only what could never have been acked (#21): an acked command that fails to store
 * for an infrastructure reason is retried with backoff until it succeeds, never parked. Run through
 * the embedded event log, so the redelivery and its backoff are the log's own.
 */
describe('worker: what is dead-lettered and what is retried', function () {
  this.timeout(30_000);
  let world: EmbeddedWorld;
  let events: EmbeddedEventLog;
  let cache: MemoryCache;
  let store: MessageStore;
  let metrics: WorkerMetrics;
  let registry: Registry;
  let subs: Subscription[];
  let dlq: ConsumedRecord[];
  let storeDown: boolean;
  let insertAttempts: number;

  beforeEach(async () => {
    world = await openEmbeddedWorld([
      { name: TOPIC, partitions: 1 },
      { name: EVENTS, partitions: 1 },
      { name: DLQ, partitions: 1 },
    ]);
    ({ events, cache, store } = world);
    // The store goes down for message inserts (both paths) while `storeDown` holds.
    storeDown = false;
    insertAttempts = 0;
    const messages = store.messages;
    const down = () => {
      insertAttempts++;
      return Promise.reject(new Error('connection refused (store down)'));
    };
    const { insertOne, insertOrdered } = messages;
    messages.insertOne = (doc) => (storeDown ? down() : insertOne.call(messages, doc));
    messages.insertOrdered = (list) => (storeDown ? down() : insertOrdered.call(messages, list));
    registry = new Registry();
    metrics = new WorkerMetrics(registry);
    const persister = new Persister(
      store,
      events,
      cache,
      { topicEvents: EVENTS, topicDlq: DLQ },
      logger,
      metrics,
    );
    dlq = [];
    subs = [
      await events.subscribe({
        groupId: 'worker',
        topics: [TOPIC],
        fromBeginning: true,
        handler: (b) => persister.handle(b),
      }),
      await events.subscribe({
        groupId: 'dlq-reader',
        topics: [DLQ],
        fromBeginning: true,
        handler: async (b) => void dlq.push(...b),
      }),
    ];
  });
  afterEach(async () => {
    for (const s of subs) await s.stop();
    await world.close();
  });

  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const m = await registry.getSingleMetric(name)!.get();
    const v = m.values.find((x) => Object.entries(labels).every(([k, want]) => x.labels[k] === want));
    return v?.value ?? 0;
  };
  const storedIds = async () =>
    (await store.messages.find({ conversationId: conv }, { sort: [['seq', 1]] })).map((m) => [
      m.seq,
      m.clientMsgId,
    ]);

  it('dead-letters an unparseable record and an unknown version at once, with their reason, and moves on', async () => {
    await events.produce(TOPIC, [
      { key: conv, value: '{"type":"message.send", "oops": ' },
      { key: conv, value: JSON.stringify({ ...JSON.parse(command('v2')), version: 2 }) },
      { key: conv, value: command('after') },
    ]);
    await waitFor(async () => (await storedIds()).length === 1 && dlq.length === 2, {
      what: 'DLQ and store',
    });
    expect(
      dlq.map((r) => [r.headers['dlq-reason'], r.headers['dlq-detail'], r.headers['dlq-source']]),
    ).to.deep.equal([
      ['unparseable', 'not JSON', `${TOPIC}/0/0`],
      ['version', 'unknown envelope version 2; this worker reads 1', `${TOPIC}/0/1`],
    ]);
    expect(await storedIds()).to.deep.equal([[1, 'after']]);
    expect(await metric('parley_worker_dlq_total', { reason: 'unparseable' })).to.equal(1);
    expect(await metric('parley_worker_dlq_total', { reason: 'version' })).to.equal(1);
  });

  it('retries an acked command while the store is down, with backoff, never dead-letters it, and stores it once back', async () => {
    storeDown = true;
    const acceptedAt = Date.now() - 5000;
    await events.produce(TOPIC, [
      { key: conv, value: 'poison in the same batch' },
      { key: conv, value: command('m1', acceptedAt) },
      { key: conv, value: command('m2') },
    ]);
    // Five redeliveries, spaced by the log's backoff (50 ms doubling, jittered): not a hot loop.
    const started = Date.now();
    await waitFor(async () => (await metric('parley_worker_batch_retries_total')) >= 5, {
      what: 'retries',
      timeoutMs: 20_000,
    });
    expect(Date.now() - started).to.be.greaterThan(500);
    expect(insertAttempts).to.be.at.least(5);
    expect(await metric('parley_worker_retry_oldest_seconds')).to.be.at.least(5);
    // Only the poison record is dead-lettered, once, however often its batch is retried.
    expect(dlq.map((r) => r.headers['dlq-reason'])).to.deep.equal(['unparseable']);
    expect(await storedIds()).to.deep.equal([]);

    storeDown = false;
    await waitFor(async () => (await storedIds()).length === 2, { what: 'stored after recovery' });
    expect(await storedIds()).to.deep.equal([
      [1, 'm1'],
      [2, 'm2'],
    ]);
    await waitFor(async () => (await metric('parley_worker_retry_oldest_seconds')) === 0, {
      what: 'the retry age back at 0',
    });
    expect(dlq).to.have.length(1);
    expect(await metric('parley_worker_dlq_total', { reason: 'unparseable' })).to.equal(1);
  });
});
