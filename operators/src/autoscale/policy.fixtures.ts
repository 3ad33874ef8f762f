/** Shared fixtures of policy.test.ts and drain.test.ts. */
import { expect } from 'chai';
import {
  INITIAL_STATE,
  type AutoscaleInput,
  type AutoscaleState,
  type Decision,
  type PartitionLag,
  type ScalingPolicy,
} from './policy.ts';
import type { ConsumerAutoscalerSpec } from './types.ts';

export const NOW = 10_000_000;
export const ago = (seconds: number) => NOW - seconds * 1000;

export function spec(over: Partial<ConsumerAutoscalerSpec> = {}): ConsumerAutoscalerSpec {
  return {
    scaleTargetRef: { name: 'worker' },
    consumerGroup: 'workers',
    topics: ['orders'],
    lagThreshold: 100,
    maxReplicas: 10,
    ...over,
  };
}

/** Partitions of topic "orders" with these lags; committed offsets 1000 + index unless given. */
export function parts(
  lags: (number | null)[],
  offsets?: (number | null)[],
  logSize?: number,
): PartitionLag[] {
  return lags.map((lag, i) => ({
    topic: 'orders',
    partition: i,
    lag,
    committedOffset: offsets ? offsets[i]! : lag === null ? null : 1000 + i,
    ...(logSize !== undefined ? { logSize } : {}),
  }));
}

export function input(over: Partial<AutoscaleInput> = {}): AutoscaleInput {
  return {
    now: NOW,
    partitions: parts([0, 0, 0, 0, 0, 0, 0, 0]),
    currentReplicas: 2,
    readyReplicas: 2,
    target: 'present',
    ...over,
  };
}

export const state = (over: Partial<AutoscaleState> = {}): AutoscaleState => ({ ...INITIAL_STATE, ...over });
/** A history that lets any scale-down through at once. */
export const noHistory = { scaleDownStabilizationSeconds: 0 };

interface Case {
  behaviour: string;
  input: AutoscaleInput;
  spec: ConsumerAutoscalerSpec;
  state?: AutoscaleState;
  desired: number;
  reason: Decision['reason'];
  message: string;
}

export function run(policy: ScalingPolicy, cases: Case[]) {
  for (const c of cases) {
    it(c.behaviour, () => {
      const d = policy(c.input, c.spec, c.state ?? INITIAL_STATE);
      expect({ desired: d.desiredReplicas, reason: d.reason, message: d.message }).to.deep.equal({
        desired: c.desired,
        reason: c.reason,
        message: c.message,
      });
    });
  }
}

export const lag400 = parts([100, 100, 100, 100, 0, 0, 0, 0]);

export const shared = (policyLabel: string): Case[] => [
  {
    behaviour: `${policyLabel}: refuses a spec with minReplicas above maxReplicas, leaving replicas alone`,
    input: input({ partitions: lag400 }),
    spec: spec({ minReplicas: 5, maxReplicas: 2 }),
    desired: 2,
    reason: 'InvalidSpec',
    message: 'spec.minReplicas (5) must be <= spec.maxReplicas (2)',
  },
  {
    behaviour: `${policyLabel}: does nothing when the Deployment is missing`,
    input: input({ partitions: lag400, target: 'missing', currentReplicas: 0, readyReplicas: 0 }),
    spec: spec(),
    desired: 0,
    reason: 'TargetMissing',
    message: 'Deployment "worker" not found: not scaling',
  },
  {
    behaviour: `${policyLabel}: does nothing when the Deployment is paused`,
    input: input({ partitions: lag400, target: 'paused' }),
    spec: spec(),
    desired: 2,
    reason: 'TargetPaused',
    message: 'Deployment "worker" is paused: not scaling',
  },
  {
    behaviour: `${policyLabel}: holds at one replica while the group has no committed offsets`,
    input: input({ partitions: parts([null, null, null, null]), currentReplicas: 0, readyReplicas: 0 }),
    spec: spec({ minReplicas: 0 }),
    desired: 1,
    reason: 'ScaleUp',
    message:
      'lag 0 on 4 partitions (4 without a committed offset counted as 0: offsetResetPolicy latest); ' +
      'consumer group "workers" has no committed offsets: holding at 1 replica until it commits; scaling 0 → 1',
  },
  {
    behaviour: `${policyLabel}: holds at minReplicas while the group has no committed offsets`,
    input: input({ partitions: parts([null, null, null, null]), currentReplicas: 1, readyReplicas: 1 }),
    spec: spec({ minReplicas: 3 }),
    desired: 3,
    reason: 'ScaleUp',
    message:
      'lag 0 on 4 partitions (4 without a committed offset counted as 0: offsetResetPolicy latest); ' +
      'consumer group "workers" has no committed offsets: holding at 3 replicas until it commits; scaling 1 → 3',
  },
  {
    behaviour: `${policyLabel}: counts the whole log as lag for a group without offsets with offsetResetPolicy earliest`,
    input: input({
      partitions: parts([null, null, null, null], undefined, 500),
      currentReplicas: 1,
      readyReplicas: 1,
    }),
    spec: spec({ offsetResetPolicy: 'earliest' }),
    desired: 4,
    reason: 'ScaleUp',
    message:
      'lag 2000 on 4 partitions (4 without a committed offset counted from the log start: offsetResetPolicy earliest); ' +
      `${policyLabel === 'drain' ? 'rates not known yet, ' : ''}lag/threshold ceil(2000 / 100) = 20; ` +
      'capped at maxReplicas 10; capped at 4 partitions (more consumers would sit idle); scaling 1 → 4',
  },
];
