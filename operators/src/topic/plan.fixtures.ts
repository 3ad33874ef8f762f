/** Shared fixtures of plan.test.ts and report.test.ts. */
import {
  type ObservedConfigEntry,
  type ObservedTopic,
  type TopicAction,
  type TopicPlan,
  type TopicResource,
} from './plan.ts';
import type { TopicSpec, TopicStatus } from './types.ts';

export const dyn = (value: string): ObservedConfigEntry => ({ value, source: 'DYNAMIC_TOPIC_CONFIG' });
export const dflt = (value: string): ObservedConfigEntry => ({ value, source: 'DEFAULT_CONFIG' });

export function topic(
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

export function kafka(over: Partial<ObservedTopic> = {}): ObservedTopic {
  return {
    name: 'orders',
    topicId: 'id-1',
    partitions: 6,
    replicationFactor: 3,
    config: { 'cleanup.policy': dflt('delete'), 'retention.ms': dflt('604800000') },
    ...over,
  };
}

export const adopted: TopicStatus = { topicId: 'id-1', appliedConfig: {} };

export function actions(plan: TopicPlan): TopicAction[] {
  if (plan.kind !== 'actions') throw new Error(`expected actions, got ${JSON.stringify(plan)}`);
  return plan.actions;
}
