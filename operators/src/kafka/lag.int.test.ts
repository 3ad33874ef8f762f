import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { requireEnv } from '@parley/common/testing';
import { observe } from '../autoscale/observe.ts';
import { drainTimePolicy, INITIAL_STATE, kedaPolicy } from '../autoscale/policy.ts';
import type { ConsumerAutoscalerSpec } from '../autoscale/types.ts';
import { KafkaTopics } from './topics.ts';

/** Real lag on a real consumer group, read through the adapter and fed to both policies. */
describe('consumer lag from real Kafka', function () {
  this.timeout(60_000);

  it('reads per-partition lag (null where nothing is committed) and rates, and both policies scale out', async () => {
    const brokers = requireEnv('KAFKA_BROKERS').split(',');
    const topic = `lag-${randomBytes(4).toString('hex')}`;
    const group = `${topic}-group`;
    const kafka = new Kafka({ clientId: 'lag-test', brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    const producer = kafka.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    const topics = await KafkaTopics.connect(brokers);
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic, numPartitions: 4, replicationFactor: 1 }],
      });
      // The group has committed at 0 on partitions 0-2 and never on partition 3.
      await admin.setOffsets({
        groupId: group,
        topic,
        partitions: [0, 1, 2].map((partition) => ({ partition, offset: '0' })),
      });
      const produce = (n: number) =>
        producer.send({
          topic,
          messages: Array.from({ length: n }, (_, i) => ({ partition: i % 4, value: `m${i}` })),
        });
      await produce(4000);
      const first = await topics.offsets(group, [topic]);
      await produce(2000);
      const second = await topics.offsets(group, [topic], first.at + 1000);
      const obs = observe(first, second);
      expect(obs.partitions.map((p) => p.lag)).to.deep.equal([1500, 1500, 1500, null]);
      expect(obs.produceRate).to.equal(2000);
      expect(obs.consumeRate).to.equal(0);

      const spec: ConsumerAutoscalerSpec = {
        scaleTargetRef: { name: 'message-worker' },
        consumerGroup: group,
        topics: [topic],
        lagThreshold: 500,
        minReplicas: 1,
        maxReplicas: 10,
      };
      const input = {
        now: second.at,
        ...obs,
        currentReplicas: 1,
        readyReplicas: 1,
        target: 'present' as const,
      };
      const keda = kedaPolicy(input, { ...spec, policy: 'Lag' }, INITIAL_STATE);
      const ours = drainTimePolicy(input, spec, INITIAL_STATE);
      // Never more consumers than partitions that can be assigned.
      expect(keda.desiredReplicas).to.equal(4);
      expect(ours.desiredReplicas).to.be.within(2, 4);
      expect(keda.totalLag).to.equal(4500);
    } finally {
      await topics.close();
      await Promise.all([admin.disconnect(), producer.disconnect()]);
    }
  });
});
