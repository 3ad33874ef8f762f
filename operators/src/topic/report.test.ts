import { expect } from 'chai';
import type { Condition } from '../meta.ts';
import {
  conditionsFor,
  eventsFor,
  planTopic,
  planTopicDeletion,
  type ObservedTopic,
  type PlanTopicOptions,
  type TopicResource,
} from './plan.ts';
import { dyn, topic, kafka, adopted } from './plan.fixtures.ts';

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
      'adds the finalizer to a managed resource with deletionPolicy Delete',
      res({ policy: 'Delete' }),
      kafka(),
      {},
      {
        deleting: false,
        actions: [{ kind: 'addFinalizer' }],
        message: `deletionPolicy Delete: adding finalizer ${F}`,
      },
    ],
    [
      'does nothing when the finalizer is there (Delete)',
      res({ finalizer: true, policy: 'Delete' }),
      kafka(),
      {},
      { deleting: false, actions: [], message: 'finalizer present' },
    ],
    [
      'adds no finalizer with deletionPolicy Retain (the default): nothing to clean up, so it cannot outlive the operator',
      res({}),
      kafka(),
      {},
      {
        deleting: false,
        actions: [],
        message: 'no finalizer: deleting the resource keeps Kafka topic "orders"',
      },
    ],
    [
      'removes the finalizer when the policy changes to Retain (or an older operator added it)',
      res({ finalizer: true, policy: 'Retain' }),
      kafka(),
      {},
      {
        deleting: false,
        actions: [{ kind: 'removeFinalizer' }],
        message: `deletionPolicy Retain: removing finalizer ${F} so deleting the resource leaves Kafka topic "orders" alone`,
      },
    ],
    [
      'removes the finalizer from an invalid spec (its policy is unknown, so the topic is kept)',
      res({ finalizer: true, policy: 'Delete', partitions: 0 }),
      kafka(),
      {},
      {
        deleting: false,
        actions: [{ kind: 'removeFinalizer' }],
        message: `spec is invalid, so deletionPolicy is unknown: removing finalizer ${F} so deleting the resource leaves Kafka topic "orders" alone`,
      },
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
