import { expect } from 'chai';
import {
  isTerminal,
  planTopic,
  type ObservedTopic,
  type PlanTopicOptions,
  type TopicAction,
  type TopicPlan,
  type TopicResource,
} from './plan.ts';
import { dyn, dflt, topic, kafka, adopted, actions } from './plan.fixtures.ts';

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
