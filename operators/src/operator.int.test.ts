import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { createLogger, createMetrics } from '@parley/common';
import { requireEnv } from '@parley/common/testing';
import { KafkaTopics } from './kafka/topics.ts';
import { ClientNodeKube, kubeConfigFor } from './kube/clientnode.ts';
import { OperatorMetrics } from './metrics.ts';
import { Operator } from './operator.ts';
import { FakeApiServer } from './testing/fake-apiserver.ts';
import { eventually } from './testing/eventually.ts';

/**
 * The whole operator (informers, controllers, leader election, client-node adapter) against the
 * fake API server and the real local Kafka.
 */
describe('operator against the fake API server and real Kafka', function () {
  this.timeout(60_000);
  const ns = 'parley';
  const suffix = randomBytes(4).toString('hex');
  let fake: FakeApiServer;
  let kafka: KafkaTopics;
  let admin: Admin;
  let producer: Producer;
  const running: Operator[] = [];
  const created: string[] = [];

  function operator(identity: string): { op: Operator; metrics: OperatorMetrics } {
    const metrics = new OperatorMetrics(createMetrics().registry);
    const op = new Operator(
      new ClientNodeKube(kubeConfigFor({ server: fake.url })),
      kafka,
      metrics,
      createLogger({ level: process.env.OPERATOR_TEST_LOG ?? 'silent', name: identity }),
      {
        identity,
        lease: {
          namespace: ns,
          name: 'parley-operator',
          leaseDurationMs: 2000,
          renewDeadlineMs: 1500,
          retryPeriodMs: 250,
        },
        topicResyncMs: 2000,
        maxBatch: 20,
        batchLingerMs: 20,
        backoff: { baseMs: 100, maxMs: 2000 },
        component: 'parley-operator',
      },
    );
    running.push(op);
    op.start();
    return { op, metrics };
  }

  before(async () => {
    const brokers = requireEnv('KAFKA_BROKERS').split(',');
    fake = await FakeApiServer.start();
    kafka = await KafkaTopics.connect(brokers, 'operator-int-test');
    const client = new Kafka({ clientId: 'operator-int-test', brokers, logLevel: logLevel.NOTHING });
    admin = client.admin();
    producer = client.producer();
    await Promise.all([admin.connect(), producer.connect()]);
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((op) => op.stop()));
  });

  after(async () => {
    const existing = new Set(await admin.listTopics());
    const mine = created.filter((t) => existing.has(t));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    await Promise.all([kafka?.close(), admin?.disconnect(), producer?.disconnect(), fake?.close()]);
  });

  const topicName = (what: string) => {
    const name = `op-${what}-${suffix}`;
    created.push(name);
    return name;
  };
  const applyTopic = (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) =>
    fake.apply('topics', {
      apiVersion: 'parley.dev/v1alpha1',
      kind: 'Topic',
      metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) },
      spec,
    });
  const ready = (name: string) => {
    const t = fake.get('topics', ns, name);
    const c = (
      t?.status?.conditions as { type: string; status: string; reason: string; message: string }[] | undefined
    )?.find((x) => x.type === 'Ready');
    return { topic: t, ready: c, observedGeneration: t?.status?.observedGeneration };
  };

  it('applies a Topic: creates it in Kafka, Ready=True; grows partitions; refuses a decrease; deletes with policy Delete', async () => {
    const { metrics } = operator('solo');
    const name = topicName('lifecycle');
    applyTopic(name, {
      partitions: 2,
      replicationFactor: 1,
      config: { 'retention.ms': 3600000 },
      deletionPolicy: 'Delete',
    });
    await eventually(() => expect(ready(name).ready).to.include({ status: 'True', reason: 'Reconciled' }));
    const t = (await kafka.observe(name))!;
    expect(t.partitions).to.equal(2);
    expect(t.config['retention.ms']!.value).to.equal('3600000');
    const first = ready(name).topic!;
    expect(first.metadata.finalizers).to.deep.equal(['parley.dev/topic-finalizer']);
    expect(first.status).to.deep.include({
      partitions: 2,
      replicationFactor: 1,
      topicId: name,
      observedGeneration: 1,
    });

    applyTopic(name, {
      partitions: 4,
      replicationFactor: 1,
      config: { 'retention.ms': 3600000 },
      deletionPolicy: 'Delete',
    });
    await eventually(() => expect(ready(name).observedGeneration).to.equal(2));
    expect((await kafka.observe(name))!.partitions).to.equal(4);
    expect(ready(name).topic!.status!.partitions).to.equal(4);

    applyTopic(name, {
      partitions: 1,
      replicationFactor: 1,
      config: { 'retention.ms': 3600000 },
      deletionPolicy: 'Delete',
    });
    await eventually(() => expect(ready(name).ready).to.include({ status: 'False', reason: 'NotSupported' }));
    expect(ready(name).ready!.message).to.contain('Decreasing partitions is not supported');
    expect((await kafka.observe(name))!.partitions).to.equal(4);
    const warnings = () => fake.list('events', ns).filter((e) => e.reason === 'NotSupported');
    await eventually(() => expect(warnings()).to.have.length(1));
    // Terminal: counted as such, not as an error to retry.
    const terminal = (await metrics.reconciles.get()).values.find(
      (v) => v.labels.controller === 'topic' && v.labels.result === 'terminal',
    );
    expect(terminal!.value).to.be.at.least(1);

    fake.delete('topics', ns, name);
    expect(warnings()).to.have.length(1);
    await eventually(() => expect(fake.get('topics', ns, name)).to.equal(undefined));
    expect(await kafka.observe(name)).to.equal(undefined);
  });

  it('reverts config drift made in Kafka, with a Warning Event', async () => {
    operator('solo');
    const name = topicName('drift');
    applyTopic(name, { partitions: 1, replicationFactor: 1, config: { 'retention.ms': 3600000 } });
    await eventually(() => expect(ready(name).ready).to.include({ status: 'True' }));
    const t = (await kafka.observe(name))!;
    await kafka.apply(
      {
        kind: 'alterConfigs',
        topicName: name,
        set: { 'retention.ms': '1000' },
        delete: [],
        revertsDrift: false,
        drift: [],
      },
      t,
    );
    // The periodic resync re-reads Kafka and puts the spec's value back.
    await eventually(async () =>
      expect((await kafka.observe(name))!.config['retention.ms']!.value).to.equal('3600000'),
    );
    await eventually(() =>
      expect(fake.list('events', ns).map((e) => e.reason)).to.include('ConfigDriftReverted'),
    );
  });

  it('keeps reconciling other Topics next to a bad spec and an unmanaged one', async () => {
    operator('solo');
    const bad = topicName('bad');
    const good = topicName('good');
    const unmanaged = topicName('unmanaged');
    applyTopic(bad, { partitions: 1, replicationFactor: 1, config: { 'min.insync.replicas': 3 } });
    applyTopic(unmanaged, { partitions: 1, replicationFactor: 1 }, { 'parley.dev/managed': 'false' });
    applyTopic(good, { partitions: 1, replicationFactor: 1 });
    await eventually(() => expect(ready(good).ready).to.include({ status: 'True' }));
    await eventually(() => expect(ready(bad).ready).to.include({ status: 'False', reason: 'InvalidSpec' }));
    expect(ready(bad).ready!.message).to.equal(
      'spec.config["min.insync.replicas"] (3) must be <= spec.replicationFactor (1)',
    );
    await eventually(() =>
      expect(ready(unmanaged).ready).to.include({ status: 'Unknown', reason: 'Unmanaged' }),
    );
    expect(await kafka.observe(bad)).to.equal(undefined);
    expect(await kafka.observe(unmanaged)).to.equal(undefined);
    expect(ready(unmanaged).topic!.metadata.finalizers ?? []).to.deep.equal([]);
  });

  it('scales a Deployment through its scale subresource on real consumer-group lag', async () => {
    const { metrics } = operator('solo');
    const topic = topicName('lag');
    const group = `${topic}-group`;
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 4, replicationFactor: 1 }],
    });
    // A group that committed at 0 and then never again: every produced record is lag.
    await admin.setOffsets({
      groupId: group,
      topic,
      partitions: [0, 1, 2, 3].map((partition) => ({ partition, offset: '0' })),
    });
    await producer.send({
      topic,
      messages: Array.from({ length: 2000 }, (_, i) => ({ partition: i % 4, value: `m${i}` })),
    });
    fake.apply('deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'worker', namespace: ns },
      spec: { replicas: 1 },
    });
    fake.apply('consumerautoscalers', {
      apiVersion: 'parley.dev/v1alpha1',
      kind: 'ConsumerAutoscaler',
      metadata: { name: 'worker', namespace: ns },
      spec: {
        scaleTargetRef: { name: 'worker' },
        consumerGroup: group,
        topics: [topic],
        lagThreshold: 500,
        minReplicas: 1,
        maxReplicas: 10,
        policy: 'Lag',
        pollingIntervalSeconds: 1,
      },
    });
    // 2000 / 500 = 4 replicas, and never more than the 4 partitions.
    await eventually(() => expect(fake.get('deployments', ns, 'worker')!.spec!.replicas).to.equal(4));
    await eventually(() =>
      expect(fake.get('consumerautoscalers', ns, 'worker')!.status).to.deep.include({
        totalLag: 2000,
        desiredReplicas: 4,
        currentReplicas: 4,
      }),
    );
    const status = fake.get('consumerautoscalers', ns, 'worker')!.status!;
    expect(status.lagByTopic).to.deep.equal({ [topic]: 2000 });
    expect(status.lastScaleTime).to.be.a('string');
    expect(fake.list('events', ns).find((e) => e.reason === 'ScaledUp')!.message).to.match(
      /^Scaled worker from 1 to 4/,
    );
    const exposition = await metrics.registry.metrics();
    expect(exposition).to.contain(`parley_operator_consumer_lag{namespace="${ns}",name="worker"} 2000`);
    expect(exposition).to.contain(`parley_operator_desired_replicas{namespace="${ns}",name="worker"} 4`);

    // A missing target: Ready=False TargetMissing, nothing scaled, and the operator carries on.
    fake.apply('consumerautoscalers', {
      apiVersion: 'parley.dev/v1alpha1',
      kind: 'ConsumerAutoscaler',
      metadata: { name: 'orphan', namespace: ns },
      spec: {
        scaleTargetRef: { name: 'nope' },
        consumerGroup: group,
        topics: [topic],
        lagThreshold: 500,
        maxReplicas: 3,
        pollingIntervalSeconds: 1,
      },
    });
    await eventually(() => {
      const c =
        (fake.get('consumerautoscalers', ns, 'orphan')!.status?.conditions as {
          type: string;
          reason: string;
          status: string;
        }[]) ?? [];
      expect(c.find((x) => x.type === 'Ready')).to.include({ status: 'False', reason: 'TargetMissing' });
    });
    fake.delete('consumerautoscalers', ns, 'worker');
    fake.delete('consumerautoscalers', ns, 'orphan');
  });

  it('fails over: only the leader reconciles; when it dies the other takes the Lease and reconciles', async () => {
    const a = operator('replica-a');
    await eventually(() =>
      expect(fake.get('leases', ns, 'parley-operator')?.spec?.holderIdentity).to.equal('replica-a'),
    );
    const b = operator('replica-b');
    const first = topicName('failover-1');
    applyTopic(first, { partitions: 1, replicationFactor: 1 });
    await eventually(() => expect(ready(first).ready).to.include({ status: 'True' }));
    expect(a.op.isLeader).to.equal(true);
    expect(b.op.isLeader).to.equal(false);
    expect(await b.metrics.registry.getSingleMetricAsString('parley_operator_reconcile_total')).to.not.match(
      /result="success"} [1-9]/,
    );

    const transitions = Number(fake.get('leases', ns, 'parley-operator')!.spec!.leaseTransitions);
    // Crash: the leader stops without releasing the Lease; b waits for it to expire, then leads.
    await running.splice(running.indexOf(a.op), 1)[0]!.stop(false);
    const second = topicName('failover-2');
    applyTopic(second, { partitions: 1, replicationFactor: 1 });
    await eventually(() =>
      expect(fake.get('leases', ns, 'parley-operator')!.spec!.holderIdentity).to.equal('replica-b'),
    );
    await eventually(() => expect(ready(second).ready).to.include({ status: 'True' }));
    expect(b.op.isLeader).to.equal(true);
    expect(fake.get('leases', ns, 'parley-operator')!.spec!.leaseTransitions).to.equal(transitions + 1);

    // Graceful: b releases the Lease on shutdown, so a new replica takes over without waiting.
    await running.splice(running.indexOf(b.op), 1)[0]!.stop(true);
    expect(fake.get('leases', ns, 'parley-operator')!.spec!.holderIdentity).to.equal('');
    const c = operator('replica-c');
    await eventually(() => expect(c.op.isLeader).to.equal(true), 1500);
  });
});
