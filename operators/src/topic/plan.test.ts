import { expect } from 'chai';
import type { Condition } from '../meta.ts';
import {
  conditionsFor,
  eventsFor,
  isTerminal,
  planTopic,
  planTopicDeletion,
  type ObservedConfigEntry,
  type ObservedTopic,
  type PlanTopicOptions,
  type TopicAction,
  type TopicPlan,
  type TopicResource,
} from './plan.ts';
import type { TopicSpec, TopicStatus } from './types.ts';

const dyn = (value: string): ObservedConfigEntry => ({ value, source: 'DYNAMIC_TOPIC_CONFIG' });
const dflt = (value: string): ObservedConfigEntry => ({ value, source: 'DEFAULT_CONFIG' });

function topic(
  spec: Partial<TopicSpec> = {},
  status?: TopicStatus,
  annotations?: Record<string, string>,
): TopicResource {
  return {
    metadata: { name: 'orders', namespace: 'parley', generation: 2, ...(annotations ? { annotations } : {}) },
    spec: { partitions: 6, replicationFactor: 3, ...spec },
    ...(status ? { status } : {}),
  };
}

function kafka(over: Partial<ObservedTopic> = {}): ObservedTopic {
  return {
    name: 'orders',
    topicId: 'id-1',
    partitions: 6,
    replicationFactor: 3,
    config: { 'cleanup.policy': dflt('delete'), 'retention.ms': dflt('604800000') },
    ...over,
  };
}

const adopted: TopicStatus = { topicId: 'id-1', appliedConfig: {} };

function actions(plan: TopicPlan): TopicAction[] {
  if (plan.kind !== 'actions') throw new Error(`expected actions, got ${JSON.stringify(plan)}`);
  return plan.actions;
}

describe('planTopic', () => {
  const actionCases: [string, TopicResource, ObservedTopic | undefined, TopicAction[]][] = [
    [
      'creates a missing topic with its config',
      topic({ config: { 'retention.ms': 3600000 } }),
      undefined,
      [
        {
          kind: 'create',
          topicName: 'orders',
          partitions: 6,
          replicationFactor: 3,
          config: { 'retention.ms': '3600000' },
          recreated: false,
        },
      ],
    ],
    [
      'creates the topic under spec.topicName',
      topic({ topicName: 'chat.orders' }),
      undefined,
      [
        {
          kind: 'create',
          topicName: 'chat.orders',
          partitions: 6,
          replicationFactor: 3,
          config: {},
          recreated: false,
        },
      ],
    ],
    [
      're-creates a topic deleted outside the operator',
      topic({}, adopted),
      undefined,
      [
        {
          kind: 'create',
          topicName: 'orders',
          partitions: 6,
          replicationFactor: 3,
          config: {},
          recreated: true,
        },
      ],
    ],
    [
      'adopts an existing topic that matches the spec',
      topic(),
      kafka(),
      [{ kind: 'adopt', topicName: 'orders', topicId: 'id-1', previousTopicId: undefined }],
    ],
    [
      'adopts an existing topic and applies the spec to it without calling it drift',
      topic(
        { partitions: 8, config: { 'retention.ms': 1000 } },
        { appliedConfig: { 'retention.ms': '1000' } },
      ),
      kafka({ config: { 'retention.ms': dyn('5000'), 'segment.ms': dyn('60000') } }),
      [
        { kind: 'adopt', topicName: 'orders', topicId: 'id-1', previousTopicId: undefined },
        { kind: 'createPartitions', topicName: 'orders', from: 6, to: 8 },
        {
          kind: 'alterConfigs',
          topicName: 'orders',
          set: { 'retention.ms': '1000' },
          delete: ['segment.ms'],
          revertsDrift: false,
          drift: [],
        },
      ],
    ],
    [
      're-adopts a topic whose id changed (re-created outside the operator)',
      topic({}, adopted),
      kafka({ topicId: 'id-2' }),
      [{ kind: 'adopt', topicName: 'orders', topicId: 'id-2', previousTopicId: 'id-1' }],
    ],
    [
      'does nothing when the topic is in sync',
      topic({}, adopted),
      kafka(),
      [{ kind: 'none', topicName: 'orders' }],
    ],
    [
      'increases partitions',
      topic({ partitions: 12 }, adopted),
      kafka(),
      [{ kind: 'createPartitions', topicName: 'orders', from: 6, to: 12 }],
    ],
    [
      'sets a changed config value',
      topic(
        { config: { 'retention.ms': 1000 } },
        { topicId: 'id-1', appliedConfig: { 'retention.ms': '5000' } },
      ),
      kafka({ config: { 'retention.ms': dyn('5000') } }),
      [
        {
          kind: 'alterConfigs',
          topicName: 'orders',
          set: { 'retention.ms': '1000' },
          delete: [],
          revertsDrift: false,
          drift: [],
        },
      ],
    ],
    [
      'pins a value that only matches the broker default',
      topic({ config: { 'cleanup.policy': 'delete' } }, adopted),
      kafka(),
      [
        {
          kind: 'alterConfigs',
          topicName: 'orders',
          set: { 'cleanup.policy': 'delete' },
          delete: [],
          revertsDrift: false,
          drift: [],
        },
      ],
    ],
    [
      'compares numbers and booleans as strings',
      topic(
        { config: { 'retention.ms': 1000, preallocate: true } },
        { topicId: 'id-1', appliedConfig: { 'retention.ms': '1000', preallocate: 'true' } },
      ),
      kafka({ config: { 'retention.ms': dyn('1000'), preallocate: dyn('true') } }),
      [{ kind: 'none', topicName: 'orders' }],
    ],
    [
      'removes a dynamic config the spec dropped, quietly',
      topic({}, { topicId: 'id-1', appliedConfig: { 'retention.ms': '1000' } }),
      kafka({ config: { 'retention.ms': dyn('1000'), 'cleanup.policy': dflt('delete') } }),
      [
        {
          kind: 'alterConfigs',
          topicName: 'orders',
          set: {},
          delete: ['retention.ms'],
          revertsDrift: false,
          drift: [],
        },
      ],
    ],
    [
      'reverts a value changed outside the resource and flags the drift',
      topic(
        { config: { 'retention.ms': 1000 } },
        { topicId: 'id-1', appliedConfig: { 'retention.ms': '1000' } },
      ),
      kafka({ config: { 'retention.ms': dyn('99') } }),
      [
        {
          kind: 'alterConfigs',
          topicName: 'orders',
          set: { 'retention.ms': '1000' },
          delete: [],
          revertsDrift: true,
          drift: [{ key: 'retention.ms', observed: '99', desired: '1000' }],
        },
      ],
    ],
    [
      'restores a value deleted outside the resource and flags the drift',
      topic(
        { config: { 'retention.ms': 1000 } },
        { topicId: 'id-1', appliedConfig: { 'retention.ms': '1000' } },
      ),
      kafka({ config: { 'retention.ms': dflt('604800000') } }),
      [
        {
          kind: 'alterConfigs',
          topicName: 'orders',
          set: { 'retention.ms': '1000' },
          delete: [],
          revertsDrift: true,
          drift: [{ key: 'retention.ms', observed: null, desired: '1000' }],
        },
      ],
    ],
    [
      'removes a dynamic config added outside the resource and flags the drift',
      topic({}, adopted),
      kafka({ config: { 'segment.ms': dyn('60000') } }),
      [
        {
          kind: 'alterConfigs',
          topicName: 'orders',
          set: {},
          delete: ['segment.ms'],
          revertsDrift: true,
          drift: [{ key: 'segment.ms', observed: '60000', desired: null }],
        },
      ],
    ],
    [
      'leaves broker-level and default configs alone',
      topic({}, adopted),
      kafka({
        config: {
          'log.retention.hours': { value: '168', source: 'STATIC_BROKER_CONFIG' },
          'compression.type': { value: 'producer', source: 'DYNAMIC_DEFAULT_BROKER_CONFIG' },
        },
      }),
      [{ kind: 'none', topicName: 'orders' }],
    ],
  ];
  for (const [behaviour, resource, observed, expected] of actionCases) {
    it(behaviour, () => {
      expect(actions(planTopic(resource, observed))).to.deep.equal(expected);
    });
  }

  const refusals: [string, TopicResource, ObservedTopic | undefined, PlanTopicOptions, TopicPlan][] = [
    [
      'refuses a partition decrease and leaves Kafka untouched',
      topic({ partitions: 3, config: { 'retention.ms': 1 } }, adopted),
      kafka(),
      {},
      {
        kind: 'refused',
        reason: 'NotSupported',
        message: 'Decreasing partitions is not supported: spec.partitions is 3 but topic "orders" has 6',
      },
    ],
    [
      'refuses a replication factor change',
      topic({ replicationFactor: 2 }, adopted),
      kafka(),
      {},
      {
        kind: 'refused',
        reason: 'NotSupported',
        message:
          'Changing the replication factor is not supported: spec.replicationFactor is 2 but topic "orders" has 3',
      },
    ],
    [
      'refuses both at once with both messages',
      topic({ partitions: 1, replicationFactor: 1 }, adopted),
      kafka(),
      {},
      {
        kind: 'refused',
        reason: 'NotSupported',
        message:
          'Decreasing partitions is not supported: spec.partitions is 1 but topic "orders" has 6; ' +
          'Changing the replication factor is not supported: spec.replicationFactor is 1 but topic "orders" has 3',
      },
    ],
    [
      'refuses an invalid spec, naming every bad field',
      topic({ partitions: -3, deletionPolicy: 'Drop' as 'Delete' }),
      kafka(),
      {},
      {
        kind: 'refused',
        reason: 'InvalidSpec',
        message:
          'spec.partitions must be an integer >= 1 (got -3); spec.deletionPolicy must be one of Retain, Delete (got "Drop")',
      },
    ],
    [
      'refuses a topic an older resource already manages',
      topic(),
      kafka(),
      { claimedBy: 'parley/orders-old' },
      {
        kind: 'refused',
        reason: 'ResourceConflict',
        message: 'Kafka topic "orders" is already managed by Topic parley/orders-old',
      },
    ],
    [
      'leaves an unmanaged topic alone, even with an invalid spec',
      topic({ partitions: -1 }, undefined, { 'parley.dev/managed': 'false' }),
      kafka(),
      {},
      {
        kind: 'unmanaged',
        message: 'parley.dev/managed is "false": the operator leaves Kafka topic "orders" alone',
      },
    ],
  ];
  for (const [behaviour, resource, observed, opts, expected] of refusals) {
    it(behaviour, () => {
      expect(planTopic(resource, observed, opts)).to.deep.equal(expected);
    });
  }

  it('accepts its own name as the claimant', () => {
    expect(actions(planTopic(topic({}, adopted), kafka(), { claimedBy: 'parley/orders' }))).to.deep.equal([
      { kind: 'none', topicName: 'orders' },
    ]);
  });

  it('marks refusals terminal and failures retryable', () => {
    expect(isTerminal(planTopic(topic({ partitions: 1 }, adopted), kafka()))).to.equal(true);
    expect(isTerminal({ kind: 'failed', reason: 'KafkaError', message: 'timeout' })).to.equal(false);
  });
});

describe('conditionsFor', () => {
  const now = new Date('2025-01-02T03:04:05.000Z');
  const earlier = '2025-01-01T00:00:00.000Z';

  const cases: [
    string,
    Parameters<typeof conditionsFor>[0],
    Omit<Condition, 'lastTransitionTime' | 'type'>,
  ][] = [
    [
      'reports a created topic as Ready',
      planTopic(topic({}), undefined),
      {
        status: 'True',
        reason: 'Reconciled',
        message: 'created topic "orders" with 6 partitions, replication factor 3',
        observedGeneration: 2,
      },
    ],
    [
      'reports every change made, in order',
      planTopic(
        topic(
          { partitions: 8, config: { 'retention.ms': 1 } },
          { topicId: 'id-1', appliedConfig: { 'retention.ms': '1' } },
        ),
        kafka({ config: { 'retention.ms': dyn('2'), 'segment.ms': dyn('3') } }),
      ),
      {
        status: 'True',
        reason: 'Reconciled',
        message:
          'increased partitions of "orders" from 6 to 8; config of "orders": set retention.ms; removed segment.ms ' +
          '(reverted changes made outside the Topic: retention.ms, segment.ms)',
        observedGeneration: 2,
      },
    ],
    [
      'reports a topic in sync',
      planTopic(topic({}, adopted), kafka()),
      { status: 'True', reason: 'Reconciled', message: 'topic "orders" is in sync', observedGeneration: 2 },
    ],
    [
      'reports a refusal as Ready=False with its reason',
      planTopic(topic({ partitions: 2 }, adopted), kafka()),
      {
        status: 'False',
        reason: 'NotSupported',
        message: 'Decreasing partitions is not supported: spec.partitions is 2 but topic "orders" has 6',
        observedGeneration: 2,
      },
    ],
    [
      'reports a Kafka failure as Ready=False KafkaError',
      { kind: 'failed', reason: 'KafkaError', message: 'CreateTopics: NOT_CONTROLLER' },
      {
        status: 'False',
        reason: 'KafkaError',
        message: 'CreateTopics: NOT_CONTROLLER',
        observedGeneration: 2,
      },
    ],
    [
      'reports an unmanaged topic as Ready=Unknown',
      planTopic(topic({}, undefined, { 'parley.dev/managed': 'false' }), kafka()),
      {
        status: 'Unknown',
        reason: 'Unmanaged',
        message: 'parley.dev/managed is "false": the operator leaves Kafka topic "orders" alone',
        observedGeneration: 2,
      },
    ],
  ];
  for (const [behaviour, outcome, expected] of cases) {
    it(behaviour, () => {
      expect(conditionsFor(outcome, 2, now)).to.deep.equal([
        { type: 'Ready', lastTransitionTime: now.toISOString(), ...expected },
      ]);
    });
  }

  it('keeps lastTransitionTime while the status stays the same', () => {
    const previous: Condition[] = [
      { type: 'Ready', status: 'True', reason: 'Reconciled', message: 'x', lastTransitionTime: earlier },
    ];
    const [ready] = conditionsFor(planTopic(topic({}, adopted), kafka()), 3, now, previous);
    expect(ready?.lastTransitionTime).to.equal(earlier);
    expect(ready?.observedGeneration).to.equal(3);
  });

  it('moves lastTransitionTime when the status changes', () => {
    const previous: Condition[] = [
      { type: 'Ready', status: 'True', reason: 'Reconciled', message: 'x', lastTransitionTime: earlier },
    ];
    const [ready] = conditionsFor(
      { kind: 'failed', reason: 'InternalError', message: 'boom' },
      3,
      now,
      previous,
    );
    expect(ready?.lastTransitionTime).to.equal(now.toISOString());
  });
});

describe('eventsFor', () => {
  it('emits a warning naming each drifted key with both values', () => {
    const plan = planTopic(
      topic(
        { config: { 'retention.ms': 1000 } },
        { topicId: 'id-1', appliedConfig: { 'retention.ms': '1000' } },
      ),
      kafka({ config: { 'retention.ms': dyn('99'), 'segment.ms': dyn('60000') } }),
    );
    expect(eventsFor(plan)).to.deep.equal([
      {
        type: 'Warning',
        reason: 'ConfigDriftReverted',
        message:
          'Reverted config of "orders" changed outside the Topic: retention.ms ("99" → "1000"), segment.ms ("60000" → unset)',
      },
    ]);
  });

  it('emits normal events for creation, adoption and partition increases, and nothing when in sync', () => {
    expect(
      eventsFor(planTopic(topic({ partitions: 8 }), kafka())).map((e) => `${e.type} ${e.reason}`),
    ).to.deep.equal(['Normal Adopted', 'Normal PartitionsIncreased']);
    expect(eventsFor(planTopic(topic({}), undefined)).map((e) => e.reason)).to.deep.equal(['Created']);
    expect(eventsFor(planTopic(topic({}, adopted), kafka()))).to.deep.equal([]);
  });

  it('emits a warning for a refusal', () => {
    expect(eventsFor(planTopic(topic({ replicationFactor: 1 }, adopted), kafka()))).to.deep.equal([
      {
        type: 'Warning',
        reason: 'NotSupported',
        message:
          'Changing the replication factor is not supported: spec.replicationFactor is 1 but topic "orders" has 3',
      },
    ]);
  });
});

describe('planTopicDeletion', () => {
  const F = 'parley.dev/topic-finalizer';
  const res = (opts: {
    finalizer?: boolean;
    deleting?: boolean;
    unmanaged?: boolean;
    policy?: 'Retain' | 'Delete';
    partitions?: number;
  }): TopicResource => ({
    metadata: {
      name: 'orders',
      namespace: 'parley',
      ...(opts.finalizer ? { finalizers: [F] } : {}),
      ...(opts.deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}),
      ...(opts.unmanaged ? { annotations: { 'parley.dev/managed': 'false' } } : {}),
    },
    spec: {
      partitions: opts.partitions ?? 6,
      replicationFactor: 3,
      ...(opts.policy ? { deletionPolicy: opts.policy } : {}),
    },
  });

  const cases: [
    string,
    TopicResource,
    ObservedTopic | undefined,
    PlanTopicOptions,
    ReturnType<typeof planTopicDeletion>,
  ][] = [
    [
      'adds the finalizer to a managed resource',
      res({}),
      kafka(),
      {},
      { deleting: false, actions: [{ kind: 'addFinalizer' }], message: `adding finalizer ${F}` },
    ],
    [
      'does nothing when the finalizer is there',
      res({ finalizer: true }),
      kafka(),
      {},
      { deleting: false, actions: [], message: 'finalizer present' },
    ],
    [
      'removes the finalizer from an unmanaged resource',
      res({ finalizer: true, unmanaged: true }),
      kafka(),
      {},
      {
        deleting: false,
        actions: [{ kind: 'removeFinalizer' }],
        message: `unmanaged: removing finalizer ${F} so deleting the resource leaves Kafka topic "orders" alone`,
      },
    ],
    [
      'keeps the topic on deletion by default (Retain)',
      res({ finalizer: true, deleting: true }),
      kafka(),
      {},
      {
        deleting: true,
        actions: [{ kind: 'removeFinalizer' }],
        message: 'deletionPolicy Retain: keeping Kafka topic "orders"',
      },
    ],
    [
      'deletes the topic, then releases the resource, with deletionPolicy Delete',
      res({ finalizer: true, deleting: true, policy: 'Delete' }),
      kafka(),
      {},
      {
        deleting: true,
        actions: [{ kind: 'deleteTopic', topicName: 'orders' }, { kind: 'removeFinalizer' }],
        message: 'deletionPolicy Delete: deleting Kafka topic "orders"',
      },
    ],
    [
      'releases the resource when the topic to delete is already gone',
      res({ finalizer: true, deleting: true, policy: 'Delete' }),
      undefined,
      {},
      {
        deleting: true,
        actions: [{ kind: 'removeFinalizer' }],
        message: 'deletionPolicy Delete: Kafka topic "orders" does not exist',
      },
    ],
    [
      'never deletes a topic another resource manages',
      res({ finalizer: true, deleting: true, policy: 'Delete' }),
      kafka(),
      { claimedBy: 'parley/orders-old' },
      {
        deleting: true,
        actions: [{ kind: 'removeFinalizer' }],
        message: 'Kafka topic "orders" is managed by Topic parley/orders-old: not deleting it',
      },
    ],
    [
      'keeps the topic of an unmanaged resource even with deletionPolicy Delete',
      res({ finalizer: true, deleting: true, policy: 'Delete', unmanaged: true }),
      kafka(),
      {},
      {
        deleting: true,
        actions: [{ kind: 'removeFinalizer' }],
        message: 'unmanaged: keeping Kafka topic "orders"',
      },
    ],
    [
      'keeps the topic when the spec is invalid',
      res({ finalizer: true, deleting: true, policy: 'Delete', partitions: 0 }),
      kafka(),
      {},
      {
        deleting: true,
        actions: [{ kind: 'removeFinalizer' }],
        message: 'spec is invalid, so deletionPolicy is unknown: keeping Kafka topic "orders"',
      },
    ],
    [
      'has nothing to do for a deleted resource without the finalizer',
      res({ deleting: true, policy: 'Delete' }),
      kafka(),
      {},
      { deleting: true, actions: [], message: 'no finalizer: nothing to clean up' },
    ],
  ];
  for (const [behaviour, resource, observed, opts, expected] of cases) {
    it(behaviour, () => {
      expect(planTopicDeletion(resource, observed, opts)).to.deep.equal(expected);
    });
  }
});
