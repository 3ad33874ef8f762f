import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { waitFor } from '../retry.ts';
import { eventLogContract } from './contract.ts';
import { KafkaEventLog } from './kafka.ts';
import { requireEnv } from '../testenv.ts';

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
