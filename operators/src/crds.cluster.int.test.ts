import { expect } from 'chai';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import { AUTOSCALER_DEFAULTS } from './autoscale/types.ts';
import { Cluster } from './testing/cluster.ts';

type Json = Record<string, unknown>;
type Plural = 'topics' | 'consumerautoscalers';

/**
 * The CRDs as the real API server applies them (scripts/kube): OpenAPI validation, CEL rules with
 * their messages, transition rules on update, pruning of unknown fields and structural defaults.
 * Each rejection asserts the API server's own message, as `kubectl apply` prints it to a user.
 */
describe('CRDs against the real API server', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let custom: CustomObjectsApi;
  let namespace: string;
  let n = 0;

  before(async function () {
    if (!process.env.PARLEY_KUBE_BIN) this.skip();
    cluster = new Cluster();
    await cluster.applyParleyCrds();
    custom = cluster.kc.makeApiClient(CustomObjectsApi);
    namespace = await cluster.namespace('crds');
  });
  after(() => cluster?.deleteNamespace(namespace));

  const kinds = { topics: 'Topic', consumerautoscalers: 'ConsumerAutoscaler' } as const;
  const at = (plural: Plural) => ({ group: 'parley.dev', version: 'v1alpha1', plural, namespace });

  async function create(plural: Plural, spec: Json, fieldValidation?: string): Promise<Json> {
    const name = `${plural.slice(0, 5)}-${++n}`;
    const body = { apiVersion: 'parley.dev/v1alpha1', kind: kinds[plural], metadata: { name }, spec };
    return (await custom.createNamespacedCustomObject({ ...at(plural), body, fieldValidation })) as Json;
  }
  async function update(plural: Plural, created: Json, spec: Json): Promise<Json> {
    const meta = created.metadata as Json;
    return (await custom.replaceNamespacedCustomObject({
      ...at(plural),
      name: meta.name as string,
      body: { ...created, spec },
    })) as Json;
  }
  /** The API server's message for a refused write; fails when the write was accepted. */
  async function refusal(write: () => Promise<unknown>): Promise<string> {
    try {
      await write();
    } catch (err) {
      if (!(err instanceof ApiException)) throw err;
      // 422 Invalid for schema and CEL failures; 400 BadRequest for strict field validation.
      expect(err.code, String(err.body)).to.be.oneOf([400, 422]);
      return (JSON.parse(String(err.body)) as { message: string }).message;
    }
    throw new Error('the API server accepted it');
  }

  const topic = { partitions: 3, replicationFactor: 1 };
  const created: [string, Json, RegExp][] = [
    [
      'a partition count of 0',
      { ...topic, partitions: 0 },
      /spec\.partitions: Invalid value: 0: spec\.partitions in body should be greater than or equal to 1/,
    ],
    ['a missing partition count', { replicationFactor: 1 }, /spec\.partitions: Required value/],
    [
      'a Kafka topic name with a slash',
      { ...topic, topicName: 'a/b' },
      /spec\.topicName in body should match '\^\[a-zA-Z0-9\._-\]\{1,249\}\$'/,
    ],
    [
      'a topic name of 250 characters',
      { ...topic, topicName: 'a'.repeat(250) },
      /spec\.topicName in body should match/,
    ],
    [
      'an unknown deletion policy',
      { ...topic, deletionPolicy: 'Orphan' },
      /spec\.deletionPolicy: Unsupported value: "Orphan": supported values: "Retain", "Delete"/,
    ],
    [
      'a replication factor over 32767',
      { ...topic, replicationFactor: 40000 },
      /spec\.replicationFactor: Invalid value: 40000: spec\.replicationFactor in body should be less than or equal to 32767/,
    ],
    [
      'a string partition count',
      { ...topic, partitions: 'three' },
      /spec\.partitions: Invalid value: "string": spec\.partitions in body must be of type integer/,
    ],
  ];
  for (const [what, spec, message] of created)
    it(`Topic: refuses ${what}`, async () =>
      expect(await refusal(() => create('topics', spec))).to.match(message));

  const updated: [string, Json, Json, RegExp][] = [
    [
      'a partition decrease',
      topic,
      { ...topic, partitions: 2 },
      /spec\.partitions cannot decrease: Kafka cannot remove partitions/,
    ],
    [
      'a changed topic name',
      { ...topic, topicName: 'a' },
      { ...topic, topicName: 'b' },
      /spec\.topicName: Invalid value: "b": spec\.topicName is immutable/,
    ],
    [
      'a topic name added later',
      topic,
      { ...topic, topicName: 'b' },
      /spec\.topicName cannot be added or removed after creation/,
    ],
    [
      'a topic name removed',
      { ...topic, topicName: 'a' },
      topic,
      /spec\.topicName cannot be added or removed after creation/,
    ],
  ];
  for (const [what, before, after, message] of updated)
    it(`Topic: refuses ${what}`, async () => {
      const first = await create('topics', before);
      expect(await refusal(() => update('topics', first, after))).to.match(message);
    });

  it('Topic: accepts the edges (a 249-character name, partitions growing, 32767 replicas) and fills in deletionPolicy Retain', async () => {
    const edge = await create('topics', {
      partitions: 1,
      replicationFactor: 32767,
      topicName: 'x'.repeat(249),
    });
    expect(edge.spec).to.deep.equal({
      partitions: 1,
      replicationFactor: 32767,
      topicName: 'x'.repeat(249),
      deletionPolicy: 'Retain',
    });
    const grown = await update('topics', edge, { ...(edge.spec as Json), partitions: 12 });
    expect((grown.spec as Json).partitions).to.equal(12);
  });

  it('Topic: prunes unknown fields by default, and refuses them under strict field validation', async () => {
    const pruned = await create('topics', { ...topic, replicas: 3, config: { 'retention.ms': 1000 } });
    expect(pruned.spec).to.deep.equal({
      ...topic,
      deletionPolicy: 'Retain',
      config: { 'retention.ms': 1000 },
    });
    expect(await refusal(() => create('topics', { ...topic, replicas: 3 }, 'Strict'))).to.match(
      /unknown field "spec\.replicas"/,
    );
  });

  const autoscaler = {
    scaleTargetRef: { name: 'worker' },
    consumerGroup: 'parley-worker',
    topics: ['chat.messages'],
    lagThreshold: 1000,
    maxReplicas: 6,
  };
  const refusedAutoscalers: [string, Json, RegExp][] = [
    [
      'minReplicas above maxReplicas',
      { ...autoscaler, minReplicas: 7 },
      /spec: Invalid value: spec\.minReplicas must be <= spec\.maxReplicas/,
    ],
    [
      'maxReplicas 0 (the default minReplicas is 1)',
      { ...autoscaler, maxReplicas: 0 },
      /spec\.maxReplicas in body should be greater than or equal to 1/,
    ],
    [
      'a lag threshold of 0',
      { ...autoscaler, lagThreshold: 0 },
      /spec\.lagThreshold in body should be greater than 0/,
    ],
    ['no topics', { ...autoscaler, topics: [] }, /spec\.topics in body should have at least 1 items/],
    [
      'a topic listed twice',
      { ...autoscaler, topics: ['a', 'a'] },
      /spec\.topics\[1\]: Duplicate value: "a"/,
    ],
    [
      'a StatefulSet target',
      { ...autoscaler, scaleTargetRef: { kind: 'StatefulSet', name: 'w' } },
      /spec\.scaleTargetRef\.kind: Unsupported value: "StatefulSet": supported values: "Deployment"/,
    ],
    [
      'a target without a name',
      { ...autoscaler, scaleTargetRef: {} },
      /spec\.scaleTargetRef\.name: Required value/,
    ],
    [
      'a stabilization window over an hour',
      { ...autoscaler, scaleDownStabilizationSeconds: 3601 },
      /spec\.scaleDownStabilizationSeconds in body should be less than or equal to 3600/,
    ],
    [
      'an unknown policy',
      { ...autoscaler, policy: 'Fast' },
      /spec\.policy: Unsupported value: "Fast": supported values: "DrainTime", "Lag"/,
    ],
  ];
  for (const [what, spec, message] of refusedAutoscalers)
    it(`ConsumerAutoscaler: refuses ${what}`, async () =>
      expect(await refusal(() => create('consumerautoscalers', spec))).to.match(message));

  it('ConsumerAutoscaler: fills in every default the operator applies, and accepts scale-to-zero', async () => {
    const made = await create('consumerautoscalers', autoscaler);
    expect(made.spec).to.deep.equal({ ...AUTOSCALER_DEFAULTS, ...autoscaler });
    const zero = await create('consumerautoscalers', { ...autoscaler, minReplicas: 0, maxReplicas: 1 });
    expect((zero.spec as Json).minReplicas).to.equal(0);
  });
});
