import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { waitFor } from '../retry.ts';
import { eventLogContract } from './contract.ts';
import { KafkaEventLog } from './kafka.ts';
import { requireEnv } from '../testenv.ts';
import { Registry } from 'prom-client';
import { EventLogMetrics } from './metrics.ts';

eventLogContract(
  'Kafka (kafkajs)',
  async (metrics) =>
    KafkaEventLog.connect({
      brokers: requireEnv('KAFKA_BROKERS').split(','),
      clientId: 'parley-contract',
      metrics,
    }),
  { timeoutMs: 30_000 },
);

describe('Kafka event log: a slow handler keeps its partitions', function () {
  this.timeout(60_000);

  it('heartbeats while a batch takes longer than the session timeout (no eviction, no redelivery)', async () => {
    const sessionTimeoutMs = 6000; // the broker's minimum
    const log = await KafkaEventLog.connect({
      brokers: requireEnv('KAFKA_BROKERS').split(','),
      clientId: 'parley-slow-handler',
      sessionTimeoutMs,
    });
    const topic = `slow-${randomUUID()}`;
    const groupId = `slow-${randomUUID()}`;
    try {
      await log.ensureTopics([{ name: topic, partitions: 1 }]);
      await log.produce(topic, [{ key: 'k', value: 'slow' }]);
      const calls: string[] = [];
      const sub = await log.subscribe({
        groupId,
        topics: [topic],
        fromBeginning: true,
        handler: async (batch) => {
          for (const r of batch) calls.push(r.offset);
          // Longer than the session timeout: without heartbeats the broker evicts the member.
          await new Promise((r) => setTimeout(r, sessionTimeoutMs * 1.6));
        },
      });
      await waitFor(async () => (await log.committedOffsets(groupId, topic)).get(0) === 1n, {
        timeoutMs: 40_000,
        what: 'the slow batch committed',
      });
      await sub.stop();
      expect(calls).to.deep.equal(['0']);
    } finally {
      await log.close();
    }
  });
});

describe('Kafka event log: requests per record (#19)', function () {
  this.timeout(60_000);
  let log: KafkaEventLog;
  let metrics: EventLogMetrics;
  const produceRequests = async () =>
    (await metrics.kafkaRequests.get()).values.find((v) => v.labels.api === 'Produce')?.value ?? 0;

  before(async () => {
    metrics = new EventLogMetrics(new Registry());
    log = await KafkaEventLog.connect({
      brokers: requireEnv('KAFKA_BROKERS').split(','),
      clientId: 'parley-requests',
      metrics,
    });
  });
  after(async () => {
    await log?.close();
  });

  it('produce calls made together share Produce requests, one per broker at most', async () => {
    const topic = `coalesce-${randomUUID()}`;
    await log.ensureTopics([{ name: topic, partitions: 6, replicationFactor: 1 }]);
    await log.produce(topic, [{ key: 'warm', value: 'up' }]); // metadata fetched
    const before = await produceRequests();
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => log.produce(topic, [{ key: `k${i}`, value: String(i) }])),
    );
    const brokers = requireEnv('KAFKA_BROKERS').split(',').length;
    expect((await produceRequests()) - before).to.be.at.most(brokers);
    const total = [...(await log.endOffsets(topic)).values()].reduce((a, b) => a + b, 0n);
    expect(total).to.equal(101n);
  });

  it('a running group commits what it handled within OFFSET_COMMIT_MS, not a request per batch', async () => {
    const topic = `commits-${randomUUID()}`;
    const groupId = `commits-${randomUUID()}`;
    await log.ensureTopics([{ name: topic, partitions: 2, replicationFactor: 1 }]);
    let handled = 0;
    const sub = await log.subscribe({
      groupId,
      topics: [topic],
      fromBeginning: true,
      handler: async (batch) => {
        handled += batch.length;
      },
    });
    try {
      const commitsBefore = (await metrics.kafkaRequests.get()).values.find(
        (v) => v.labels.api === 'OffsetCommit',
      )?.value;
      for (let i = 0; i < 20; i++) {
        await log.produce(topic, [{ key: `k${i}`, value: String(i) }]);
        await waitFor(() => handled > i, { timeoutMs: 10_000, what: `record ${i}` });
      }
      // The last records are held, then committed by the timer with no further batch.
      await waitFor(
        async () =>
          [...(await log.committedOffsets(groupId, topic)).values()].reduce((a, b) => a + b, 0n) === 20n,
        { timeoutMs: 5_000, intervalMs: 50, what: 'all 20 committed without another batch' },
      );
      const commits =
        ((await metrics.kafkaRequests.get()).values.find((v) => v.labels.api === 'OffsetCommit')?.value ??
          0) - (commitsBefore ?? 0);
      expect(commits, 'OffsetCommit requests for 20 batches').to.be.below(20);
    } finally {
      await sub.stop();
    }
  });
});
