import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { createLogger, createMetrics, waitFor } from '@parley/common';
import { requireEnv } from '@parley/common/testing';
import { KafkaTopics } from './kafka/topics.ts';
import { ClientNodeKube } from './kube/clientnode.ts';
import { OperatorMetrics } from './metrics.ts';
import { Operator } from './operator.ts';
import { testDeployment, testServers, type TestObject, type TestServer } from './testing/servers.ts';

type Condition = { type: string; status: string; reason: string; message: string };

for (const [label, start] of testServers('operator')) {
  /**
   * The whole operator (informers, controllers, leader election, client-node adapter) against each
   * API server and the real local Kafka. On the real server it runs as the chart's operator
   * ServiceAccount, so every call it makes is also an RBAC check.
   */
  describe(`operator against ${label} and real Kafka`, function () {
    this.timeout(90_000);
    let ns: string;
    const suffix = randomBytes(4).toString('hex');
    let server: TestServer;
    let kafka: KafkaTopics;
    let admin: Admin;
    let producer: Producer;
    const running: Operator[] = [];
    const created: string[] = [];

    function operator(identity: string): { op: Operator; metrics: OperatorMetrics } {
      const metrics = new OperatorMetrics(createMetrics().registry);
      const op = new Operator(
        new ClientNodeKube(server.kc),
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
          // As the chart runs it (WATCH_NAMESPACE): its Role grants nothing cluster-wide.
          namespace: ns,
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
      server = await start();
      ns = server.namespace;
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
      await Promise.all([kafka?.close(), admin?.disconnect(), producer?.disconnect(), server?.close()]);
    });

    const topicName = (what: string) => {
      const name = `op-${what}-${suffix}`;
      created.push(name);
      return name;
    };
    const applyTopic = (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) =>
      server.apply('topics', {
        apiVersion: 'parley.dev/v1alpha1',
        kind: 'Topic',
        metadata: { name, ...(annotations ? { annotations } : {}) },
        spec,
      });
    const readyOf = (t: TestObject | undefined) =>
      (t?.status?.conditions as Condition[] | undefined)?.find((x) => x.type === 'Ready');
    const ready = async (name: string) => {
      const t = await server.get('topics', name);
      return { topic: t, ready: readyOf(t), observedGeneration: t?.status?.observedGeneration };
    };
    const eventsWith = async (reason: string) => (await server.events()).filter((e) => e.reason === reason);

    it('applies a Topic: creates it in Kafka, Ready=True; grows partitions; refuses to shrink Kafka, deletes with policy Delete', async () => {
      const { metrics } = operator('solo');
      const name = topicName('lifecycle');
      await applyTopic(name, {
        partitions: 2,
        replicationFactor: 1,
        config: { 'retention.ms': 3600000 },
        deletionPolicy: 'Delete',
      });
      await waitFor(async () =>
        expect((await ready(name)).ready).to.include({ status: 'True', reason: 'Reconciled' }),
      );
      const t = (await kafka.observe(name))!;
      expect(t.topicId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(t.partitions).to.equal(2);
      expect(t.config['retention.ms']!.value).to.equal('3600000');
      const first = (await ready(name)).topic!;
      expect(first.metadata.finalizers).to.deep.equal(['parley.dev/topic-finalizer']);
      expect(first.status).to.deep.include({
        partitions: 2,
        replicationFactor: 1,
        // Kafka's own topic id (a UUID), not the name.
        topicId: t.topicId,
        observedGeneration: 1,
      });

      await applyTopic(name, {
        partitions: 4,
        replicationFactor: 1,
        config: { 'retention.ms': 3600000 },
        deletionPolicy: 'Delete',
      });
      await waitFor(async () => expect((await ready(name)).observedGeneration).to.equal(2));
      expect((await kafka.observe(name))!.partitions).to.equal(4);
      expect((await ready(name)).topic!.status!.partitions).to.equal(4);

      // A spec below what Kafka has: the API server refuses lowering spec.partitions (a CEL rule), so
      // the topic grows in Kafka behind the operator's back; it cannot shrink it back.
      await admin.createPartitions({ topicPartitions: [{ topic: name, count: 6 }] });
      await waitFor(async () =>
        expect((await ready(name)).ready).to.include({ status: 'False', reason: 'NotSupported' }),
      );
      expect((await ready(name)).ready!.message).to.contain('Decreasing partitions is not supported');
      expect((await kafka.observe(name))!.partitions).to.equal(6);
      const warnings = () => eventsWith('NotSupported');
      await waitFor(async () => expect(await warnings()).to.have.length(1));
      // Terminal: counted as such, not as an error to retry.
      const terminal = (await metrics.reconciles.get()).values.find(
        (v) => v.labels.controller === 'topic' && v.labels.result === 'terminal',
      );
      expect(terminal!.value).to.be.at.least(1);

      await server.delete('topics', name);
      expect(await warnings()).to.have.length(1);
      await waitFor(async () => expect(await server.get('topics', name)).to.equal(undefined));
      expect(await kafka.observe(name)).to.equal(undefined);
    });

    it('reverts config drift made in Kafka, with a Warning Event', async () => {
      operator('solo');
      const name = topicName('drift');
      await applyTopic(name, { partitions: 1, replicationFactor: 1, config: { 'retention.ms': 3600000 } });
      await waitFor(async () => expect((await ready(name)).ready).to.include({ status: 'True' }));
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
      await waitFor(async () =>
        expect((await kafka.observe(name))!.config['retention.ms']!.value).to.equal('3600000'),
      );
      await waitFor(async () => expect(await eventsWith('ConfigDriftReverted')).to.not.have.length(0));
    });

    it('keeps reconciling other Topics next to a bad spec and an unmanaged one', async () => {
      operator('solo');
      const bad = topicName('bad');
      const good = topicName('good');
      const unmanaged = topicName('unmanaged');
      await applyTopic(bad, { partitions: 1, replicationFactor: 1, config: { 'min.insync.replicas': 3 } });
      await applyTopic(unmanaged, { partitions: 1, replicationFactor: 1 }, { 'parley.dev/managed': 'false' });
      await applyTopic(good, { partitions: 1, replicationFactor: 1 });
      await waitFor(async () => expect((await ready(good)).ready).to.include({ status: 'True' }));
      await waitFor(async () =>
        expect((await ready(bad)).ready).to.include({ status: 'False', reason: 'InvalidSpec' }),
      );
      expect((await ready(bad)).ready!.message).to.equal(
        'spec.config["min.insync.replicas"] (3) must be <= spec.replicationFactor (1)',
      );
      await waitFor(async () =>
        expect((await ready(unmanaged)).ready).to.include({ status: 'Unknown', reason: 'Unmanaged' }),
      );
      expect(await kafka.observe(bad)).to.equal(undefined);
      expect(await kafka.observe(unmanaged)).to.equal(undefined);
      expect((await ready(unmanaged)).topic!.metadata.finalizers ?? []).to.deep.equal([]);
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
      await server.apply('deployments', testDeployment('worker', 1));
      await server.apply('consumerautoscalers', {
        apiVersion: 'parley.dev/v1alpha1',
        kind: 'ConsumerAutoscaler',
        metadata: { name: 'worker' },
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
      await waitFor(async () =>
        expect((await server.get('deployments', 'worker'))!.spec!.replicas).to.equal(4),
      );
      await waitFor(async () =>
        expect((await server.get('consumerautoscalers', 'worker'))!.status).to.deep.include({
          totalLag: 2000,
          desiredReplicas: 4,
          currentReplicas: 4,
        }),
      );
      const status = (await server.get('consumerautoscalers', 'worker'))!.status!;
      expect(status.lagByTopic).to.deep.equal({ [topic]: 2000 });
      expect(status.lastScaleTime).to.be.a('string');
      expect((await eventsWith('ScaledUp'))[0]!.message).to.match(/^Scaled worker from 1 to 4/);
      const exposition = await metrics.registry.metrics();
      expect(exposition).to.contain(`parley_operator_consumer_lag{namespace="${ns}",name="worker"} 2000`);
      expect(exposition).to.contain(`parley_operator_desired_replicas{namespace="${ns}",name="worker"} 4`);

      // A missing target: Ready=False TargetMissing, nothing scaled, and the operator carries on.
      await server.apply('consumerautoscalers', {
        apiVersion: 'parley.dev/v1alpha1',
        kind: 'ConsumerAutoscaler',
        metadata: { name: 'orphan' },
        spec: {
          scaleTargetRef: { name: 'nope' },
          consumerGroup: group,
          topics: [topic],
          lagThreshold: 500,
          maxReplicas: 3,
          pollingIntervalSeconds: 1,
        },
      });
      await waitFor(async () =>
        expect(readyOf(await server.get('consumerautoscalers', 'orphan'))).to.include({
          status: 'False',
          reason: 'TargetMissing',
        }),
      );
      await server.delete('consumerautoscalers', 'worker');
      await server.delete('consumerautoscalers', 'orphan');
    });

    it('fails over: only the leader reconciles; when it dies the other takes the Lease and reconciles', async () => {
      const a = operator('replica-a');
      const lease = async () => (await server.get('leases', 'parley-operator'))?.spec;
      await waitFor(async () => expect((await lease())?.holderIdentity).to.equal('replica-a'));
      const b = operator('replica-b');
      const first = topicName('failover-1');
      await applyTopic(first, { partitions: 1, replicationFactor: 1 });
      await waitFor(async () => expect((await ready(first)).ready).to.include({ status: 'True' }));
      expect(a.op.isLeader).to.equal(true);
      expect(b.op.isLeader).to.equal(false);
      expect(
        await b.metrics.registry.getSingleMetricAsString('parley_operator_reconcile_total'),
      ).to.not.match(/result="success"} [1-9]/);

      const transitions = Number((await lease())!.leaseTransitions);
      // Crash: the leader stops without releasing the Lease; b waits for it to expire, then leads.
      await running.splice(running.indexOf(a.op), 1)[0]!.stop(false);
      const second = topicName('failover-2');
      await applyTopic(second, { partitions: 1, replicationFactor: 1 });
      await waitFor(async () => expect((await lease())!.holderIdentity).to.equal('replica-b'));
      await waitFor(async () => expect((await ready(second)).ready).to.include({ status: 'True' }));
      expect(b.op.isLeader).to.equal(true);
      expect((await lease())!.leaseTransitions).to.equal(transitions + 1);

      // Graceful: b releases the Lease on shutdown, so a new replica takes over without waiting.
      await running.splice(running.indexOf(b.op), 1)[0]!.stop(true);
      expect((await lease())!.holderIdentity ?? '').to.equal('');
      const c = operator('replica-c');
      await waitFor(() => expect(c.op.isLeader).to.equal(true), { timeoutMs: 1500 });
    });
  });
}
