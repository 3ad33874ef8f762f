import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { requireEnv } from '@parley/common/testing';
import { planTopic, type TopicPlan, type TopicResource } from '../topic/plan.ts';
import { KafkaTopics } from './topics.ts';

/**
 * The Topic planner and the Kafka adapter together against the real local Kafka: what one
 * reconcile does (observe → plan → act), and what Kafka looks like afterwards.
 */
describe('Topic reconcile against real Kafka', function () {
  this.timeout(60_000);
  let kafka: KafkaTopics;
  const brokers = () => requireEnv('KAFKA_BROKERS').split(',');

  before(async () => {
    kafka = await KafkaTopics.connect(brokers());
  });
  after(() => kafka?.close());

  function resource(name: string, partitions: number, config: Record<string, string> = {}): TopicResource {
    return {
      metadata: { name, namespace: 'parley', generation: 1 },
      spec: { partitions, replicationFactor: 1, config },
    };
  }

  /** One reconcile: returns the plan and writes what the loop would keep in status. */
  async function reconcile(r: TopicResource): Promise<TopicPlan> {
    const name = r.spec.topicName ?? r.metadata.name;
    const observed = await kafka.observe(name);
    const plan = planTopic(r, observed);
    if (plan.kind === 'actions') {
      for (const a of plan.actions) await kafka.apply(a, observed);
      const after = await kafka.observe(name);
      r.status = { ...r.status, topicId: after?.topicId, appliedConfig: { ...plan.spec.config } };
    }
    return plan;
  }

  const kinds = (p: TopicPlan) => (p.kind === 'actions' ? p.actions.map((a) => a.kind) : [p.kind]);
  const uid = () => `op-${randomBytes(4).toString('hex')}`;

  it('creates a missing topic with its partitions and config, then is in sync', async () => {
    const r = resource(uid(), 3, { 'retention.ms': '3600000', 'cleanup.policy': 'delete' });
    expect(kinds(await reconcile(r))).to.deep.equal(['create']);
    const t = (await kafka.observe(r.metadata.name))!;
    expect(t.partitions).to.equal(3);
    expect(t.config['retention.ms']).to.deep.equal({ value: '3600000', source: 'DYNAMIC_TOPIC_CONFIG' });
    expect(kinds(await reconcile(r))).to.deep.equal(['none']);
  });

  it('increases partitions and changes and removes configs', async () => {
    const r = resource(uid(), 2, { 'retention.ms': '3600000', 'max.message.bytes': '2000000' });
    await reconcile(r);
    r.spec = { ...r.spec, partitions: 5, config: { 'retention.ms': '7200000' } };
    expect(kinds(await reconcile(r))).to.deep.equal(['createPartitions', 'alterConfigs']);
    const t = (await kafka.observe(r.metadata.name))!;
    expect(t.partitions).to.equal(5);
    expect(t.config['retention.ms']?.value).to.equal('7200000');
    expect(t.config['max.message.bytes']?.source).to.not.equal('DYNAMIC_TOPIC_CONFIG');
  });

  it('reverts config drift made outside the resource and says so', async () => {
    const r = resource(uid(), 1, { 'retention.ms': '3600000' });
    await reconcile(r);
    const admin = new Kafka({ clientId: 'drifter', brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: r.metadata.name,
          configEntries: [
            { name: 'retention.ms', value: '1000' },
            { name: 'segment.ms', value: '600000' },
          ],
        },
      ],
    });
    await admin.disconnect();
    const plan = await reconcile(r);
    expect(plan.kind).to.equal('actions');
    const alter = plan.kind === 'actions' ? plan.actions.find((a) => a.kind === 'alterConfigs') : undefined;
    expect(alter).to.deep.include({
      revertsDrift: true,
      set: { 'retention.ms': '3600000' },
      delete: ['segment.ms'],
    });
    const t = (await kafka.observe(r.metadata.name))!;
    expect(t.config['retention.ms']?.value).to.equal('3600000');
    expect(t.config['segment.ms']?.source).to.not.equal('DYNAMIC_TOPIC_CONFIG');
  });

  it('refuses a partition decrease and leaves Kafka untouched', async () => {
    const r = resource(uid(), 4);
    await reconcile(r);
    r.spec = { ...r.spec, partitions: 2 };
    const plan = await reconcile(r);
    expect(plan).to.deep.include({ kind: 'refused', reason: 'NotSupported' });
    expect((plan as { message: string }).message).to.equal(
      `Decreasing partitions is not supported: spec.partitions is 2 but topic "${r.metadata.name}" has 4`,
    );
    expect((await kafka.observe(r.metadata.name))!.partitions).to.equal(4);
  });

  it('adopts a topic that already exists, then manages it', async () => {
    const name = uid();
    const admin = new Kafka({ clientId: 'pre', brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: name, numPartitions: 2, replicationFactor: 1 }],
    });
    await admin.disconnect();
    const r = resource(name, 3, { 'retention.ms': '3600000' });
    expect(kinds(await reconcile(r))).to.deep.equal(['adopt', 'createPartitions', 'alterConfigs']);
    expect(kinds(await reconcile(r))).to.deep.equal(['none']);
    // Creating a topic that appeared meanwhile is success, not an error.
    await kafka.apply(
      { kind: 'create', topicName: name, partitions: 3, replicationFactor: 1, config: {}, recreated: false },
      undefined,
    );
  });
});
