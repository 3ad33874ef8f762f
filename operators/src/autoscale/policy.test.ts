import { expect } from 'chai';
import {
  autoscalerConditions,
  drainTimePolicy,
  INITIAL_STATE,
  kedaPolicy,
  type AutoscaleInput,
  type AutoscaleState,
  type Decision,
  type PartitionLag,
  type ScalingPolicy,
} from './policy.ts';
import type { ConsumerAutoscalerSpec } from './types.ts';

const NOW = 10_000_000;
const ago = (seconds: number) => NOW - seconds * 1000;

function spec(over: Partial<ConsumerAutoscalerSpec> = {}): ConsumerAutoscalerSpec {
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
function parts(lags: (number | null)[], offsets?: (number | null)[], logSize?: number): PartitionLag[] {
  return lags.map((lag, i) => ({
    topic: 'orders',
    partition: i,
    lag,
    committedOffset: offsets ? offsets[i]! : lag === null ? null : 1000 + i,
    ...(logSize !== undefined ? { logSize } : {}),
  }));
}

function input(over: Partial<AutoscaleInput> = {}): AutoscaleInput {
  return {
    now: NOW,
    partitions: parts([0, 0, 0, 0, 0, 0, 0, 0]),
    currentReplicas: 2,
    readyReplicas: 2,
    target: 'present',
    ...over,
  };
}

const state = (over: Partial<AutoscaleState> = {}): AutoscaleState => ({ ...INITIAL_STATE, ...over });
/** A history that lets any scale-down through at once. */
const noHistory = { scaleDownStabilizationSeconds: 0 };

interface Case {
  behaviour: string;
  input: AutoscaleInput;
  spec: ConsumerAutoscalerSpec;
  state?: AutoscaleState;
  desired: number;
  reason: Decision['reason'];
  message: string;
}

function run(policy: ScalingPolicy, cases: Case[]) {
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

const lag400 = parts([100, 100, 100, 100, 0, 0, 0, 0]);

const shared = (policyLabel: string): Case[] => [
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

describe('kedaPolicy', () => {
  run(kedaPolicy, [
    ...shared('keda'),
    {
      behaviour: 'scales to ceil(lag / lagThreshold)',
      input: input({ partitions: lag400 }),
      spec: spec(),
      desired: 4,
      reason: 'ScaleUp',
      message: 'lag 400 on 8 partitions; lag/threshold ceil(400 / 100) = 4; scaling 2 → 4',
    },
    {
      behaviour: 'caps at maxReplicas',
      input: input({ partitions: parts([5000, ...new Array<number>(15).fill(0)]) }),
      spec: spec(),
      desired: 10,
      reason: 'ScaleUp',
      message:
        'lag 5000 on 16 partitions; lag/threshold ceil(5000 / 100) = 50; capped at maxReplicas 10; scaling 2 → 10',
    },
    {
      behaviour: 'never asks for more replicas than partitions',
      input: input({ partitions: parts([900, 0, 0, 0]) }),
      spec: spec(),
      desired: 4,
      reason: 'ScaleUp',
      message:
        'lag 900 on 4 partitions; lag/threshold ceil(900 / 100) = 9; capped at 4 partitions (more consumers would sit idle); scaling 2 → 4',
    },
    {
      behaviour: 'keeps minReplicas with no lag',
      input: input({ currentReplicas: 3, readyReplicas: 3 }),
      spec: spec({ minReplicas: 3 }),
      desired: 3,
      reason: 'Hold',
      message:
        'lag 0 on 8 partitions; lag/threshold ceil(0 / 100) = 0; raised to minReplicas 3; staying at 3',
    },
    {
      behaviour: "holds within HPA's 10% tolerance",
      input: input({ partitions: parts([210, 0, 0, 0]) }),
      spec: spec(),
      desired: 2,
      reason: 'Hold',
      message:
        'lag 210 on 4 partitions; lag/threshold ceil(210 / 100) = 3, but ratio 1.05 is within the 10% tolerance: 2; staying at 2',
    },
    {
      behaviour: 'holds a scale-down for the scale-down window',
      input: input({ partitions: parts([100, 0, 0, 0, 0, 0, 0, 0]), currentReplicas: 5, readyReplicas: 5 }),
      spec: spec(),
      state: state({ recommendations: [{ at: ago(60), replicas: 5 }] }),
      desired: 5,
      reason: 'Hold',
      message:
        'lag 100 on 8 partitions; lag/threshold ceil(100 / 100) = 1; scale-down to 1 held by the 300s scale-down window; staying at 5',
    },
    {
      behaviour: 'scales down to the largest recommendation of the scale-down window',
      input: input({ partitions: parts([200, 0, 0, 0, 0, 0, 0, 0]), currentReplicas: 8, readyReplicas: 8 }),
      spec: spec(),
      state: state({
        recommendations: [
          { at: ago(400), replicas: 8 },
          { at: ago(200), replicas: 4 },
        ],
      }),
      desired: 4,
      reason: 'ScaleDown',
      message:
        'lag 200 on 8 partitions; lag/threshold ceil(200 / 100) = 2; scale-down to 2 limited to 4 by the 300s scale-down window; scaling 8 → 4',
    },
    {
      behaviour: 'does not hold a scale-down on a fresh start: seeds the window with the current count',
      input: input({ currentReplicas: 6, readyReplicas: 6 }),
      spec: spec(),
      desired: 6,
      reason: 'Hold',
      message:
        'lag 0 on 8 partitions; lag/threshold ceil(0 / 100) = 0; raised to minReplicas 1; scale-down to 1 held by the 300s scale-down window; staying at 6',
    },
    {
      behaviour: 'scales up to the smallest recommendation of the scale-up window',
      input: input({ partitions: lag400.map((p) => ({ ...p, lag: p.lag! * 1.5 })) }),
      spec: spec({ scaleUpStabilizationSeconds: 60 }),
      state: state({ recommendations: [{ at: ago(30), replicas: 3 }] }),
      desired: 3,
      reason: 'ScaleUp',
      message:
        'lag 600 on 8 partitions; lag/threshold ceil(600 / 100) = 6; scale-up to 6 limited to 3 by the 60s scale-up window; scaling 2 → 3',
    },
    {
      behaviour: 'defers a scale-down during the cooldown',
      input: input({ partitions: parts([100, 0, 0, 0]), currentReplicas: 5, readyReplicas: 5 }),
      spec: spec({ ...noHistory, cooldownSeconds: 120 }),
      state: state({ lastScaleTime: ago(30) }),
      desired: 5,
      reason: 'Hold',
      message:
        'lag 100 on 4 partitions; lag/threshold ceil(100 / 100) = 1; scale-down to 1 deferred: last scale 30s ago, cooldownSeconds 120; staying at 5',
    },
    {
      behaviour: 'scales up during the cooldown',
      input: input({
        partitions: parts([900, ...new Array<number>(15).fill(0)]),
        currentReplicas: 5,
        readyReplicas: 5,
      }),
      spec: spec({ ...noHistory, cooldownSeconds: 120 }),
      state: state({ lastScaleTime: ago(30) }),
      desired: 9,
      reason: 'ScaleUp',
      message: 'lag 900 on 16 partitions; lag/threshold ceil(900 / 100) = 9; scaling 5 → 9',
    },
    {
      behaviour: 'never scales to zero unless minReplicas is 0',
      input: input({ currentReplicas: 1, readyReplicas: 1 }),
      spec: spec(noHistory),
      desired: 1,
      reason: 'Hold',
      message:
        'lag 0 on 8 partitions; lag/threshold ceil(0 / 100) = 0; raised to minReplicas 1; staying at 1',
    },
    {
      behaviour: 'scales to zero with minReplicas 0 once lag was at activation for the whole window',
      input: input({ currentReplicas: 1, readyReplicas: 1 }),
      spec: spec({ minReplicas: 0 }),
      state: state({
        recommendations: [
          { at: ago(310), replicas: 1 },
          { at: ago(200), replicas: 0 },
          { at: ago(100), replicas: 0 },
        ],
      }),
      desired: 0,
      reason: 'ScaleDown',
      message: 'lag 0 on 8 partitions; idle: lag 0 <= activationLagThreshold 0; scaling 1 → 0',
    },
    {
      behaviour: 'waits out the scale-down window before scaling to zero',
      input: input({ currentReplicas: 1, readyReplicas: 1 }),
      spec: spec({ minReplicas: 0 }),
      state: state({ recommendations: [{ at: ago(100), replicas: 1 }] }),
      desired: 1,
      reason: 'Hold',
      message:
        'lag 0 on 8 partitions; idle: lag 0 <= activationLagThreshold 0; scale-down to 0 held by the 300s scale-down window; staying at 1',
    },
    {
      behaviour: 'stays at zero below the activation lag',
      input: input({ partitions: parts([50, 0, 0, 0]), currentReplicas: 0, readyReplicas: 0 }),
      spec: spec({ minReplicas: 0, activationLagThreshold: 100 }),
      desired: 0,
      reason: 'Hold',
      message: 'lag 50 on 4 partitions; idle: lag 50 <= activationLagThreshold 100; staying at 0',
    },
    {
      behaviour: 'wakes from zero above the activation lag',
      input: input({ partitions: parts([150, 0, 0, 0]), currentReplicas: 0, readyReplicas: 0 }),
      spec: spec({ minReplicas: 0, activationLagThreshold: 100 }),
      desired: 2,
      reason: 'ScaleUp',
      message: 'lag 150 on 4 partitions; lag/threshold ceil(150 / 100) = 2; scaling 0 → 2',
    },
    {
      behaviour: 'counts partitions without a committed offset as 0 under offsetResetPolicy latest',
      input: input({ partitions: parts([300, null, 0, 0]) }),
      spec: spec(),
      desired: 3,
      reason: 'ScaleUp',
      message:
        'lag 300 on 4 partitions (1 without a committed offset counted as 0: offsetResetPolicy latest); lag/threshold ceil(300 / 100) = 3; scaling 2 → 3',
    },
    {
      behaviour: "scales for a stuck partition's lag (KEDA's default, no excludePersistentLag)",
      input: input({
        partitions: parts([5000, 0, 0, 0, 0, 0, 0, 0], [100, 201, 300, 400, 500, 600, 700, 800]),
      }),
      spec: spec(),
      state: state({ offsets: { 'orders/0': 100, 'orders/1': 200 } }),
      desired: 8,
      reason: 'ScaleUp',
      message:
        'lag 5000 on 8 partitions; lag/threshold ceil(5000 / 100) = 50; capped at maxReplicas 10; capped at 8 partitions (more consumers would sit idle); scaling 2 → 8',
    },
  ]);
});

const capacity500 = state({ capacityPerReplica: 500 });

describe('drainTimePolicy', () => {
  run(drainTimePolicy, [
    ...shared('drain'),
    {
      behaviour: 'falls back to the lag rule before it has rates',
      input: input({ partitions: lag400 }),
      spec: spec(),
      desired: 4,
      reason: 'ScaleUp',
      message:
        'lag 400 on 8 partitions; rates not known yet, lag/threshold ceil(400 / 100) = 4; scaling 2 → 4',
    },
    {
      behaviour: 'falls back to the lag rule before it has measured per-replica capacity',
      input: input({ partitions: lag400, produceRate: 100, consumeRate: 100 }),
      spec: spec(),
      desired: 4,
      reason: 'ScaleUp',
      message:
        'lag 400 on 8 partitions; per-replica capacity not measured yet, lag/threshold ceil(400 / 100) = 4; scaling 2 → 4',
    },
    {
      behaviour: 'at most halves replicas while capacity is unknown',
      input: input({ produceRate: 100, consumeRate: 100, currentReplicas: 8, readyReplicas: 8 }),
      spec: spec(noHistory),
      desired: 4,
      reason: 'ScaleDown',
      message:
        'lag 0 on 8 partitions; per-replica capacity not measured yet, lag/threshold ceil(0 / 100) = 0, but at most halving while probing: 4; scaling 8 → 4',
    },
    {
      behaviour: 'learns capacity from a saturated poll and scales for production plus the backlog',
      input: input({
        partitions: parts(new Array<number>(16).fill(1500)),
        produceRate: 3000,
        consumeRate: 2000,
        currentReplicas: 4,
        readyReplicas: 4,
      }),
      spec: spec({ maxReplicas: 20 }),
      state: state({ lastPollAt: ago(15), lastLag: 30000 }),
      desired: 8,
      reason: 'ScaleUp',
      message:
        'lag 24000 on 16 partitions; drain in 60s: ceil((3000/s produced + (24000 + 15000 by the next poll) / 60s) / 500/s per replica) = 8; scaling 4 → 8',
    },
    {
      behaviour: 'scales down to what production and the backlog need',
      input: input({
        partitions: parts([3000, 3000, 0, 0]),
        produceRate: 1000,
        currentReplicas: 4,
        readyReplicas: 4,
      }),
      spec: spec(noHistory),
      state: capacity500,
      desired: 3,
      reason: 'ScaleDown',
      message:
        'lag 6000 on 4 partitions; drain in 60s: ceil((1000/s produced + 6000 / 60s) / 500/s per replica) = 3; scaling 4 → 3',
    },
    {
      behaviour: 'anticipates a rising produce rate for one poll',
      input: input({
        partitions: parts(new Array<number>(12).fill(0)),
        produceRate: 1000,
        currentReplicas: 3,
        readyReplicas: 3,
      }),
      spec: spec(noHistory),
      state: state({ capacityPerReplica: 500, lastProduceRate: 800 }),
      desired: 3,
      reason: 'Hold',
      message:
        'lag 0 on 12 partitions; drain in 60s: ceil(((1000 + 200 rising)/s produced + 0 / 60s) / 500/s per replica) = 3; staying at 3',
    },
    {
      behaviour: 'adds replicas until no consumer owns more partitions than it can keep up with',
      input: input({
        partitions: parts(new Array<number>(16).fill(0)),
        produceRate: 7000,
        currentReplicas: 14,
        readyReplicas: 14,
      }),
      spec: spec({ maxReplicas: 20 }),
      state: capacity500,
      desired: 16,
      reason: 'ScaleUp',
      message:
        'lag 0 on 16 partitions; drain in 60s: ceil((7000/s produced + 0 / 60s) / 500/s per replica) = 14, raised to 16 so no consumer owns more than 1 partition (438/s); scaling 14 → 16',
    },
    {
      behaviour: 'holds a scale-down within 10% of the current count',
      input: input({
        partitions: parts(new Array<number>(90).fill(0)),
        produceRate: 4400,
        currentReplicas: 10,
        readyReplicas: 10,
      }),
      spec: spec(noHistory),
      state: capacity500,
      desired: 10,
      reason: 'Hold',
      message:
        'lag 0 on 90 partitions; drain in 60s: ceil((4400/s produced + 0 / 60s) / 500/s per replica) = 9, within the 10% tolerance of 10: 10; staying at 10',
    },
    {
      behaviour: 'ignores the lag of a stuck partition while the others move',
      input: input({
        partitions: parts([5000, 0, 0, 0, 0, 0, 0, 0], [100, 201, 300, 400, 500, 600, 700, 800]),
        produceRate: 400,
        currentReplicas: 2,
        readyReplicas: 2,
      }),
      spec: spec(noHistory),
      state: state({ capacityPerReplica: 500, offsets: { 'orders/0': 100, 'orders/1': 200 } }),
      desired: 1,
      reason: 'ScaleDown',
      message:
        'lag 5000 on 8 partitions; ignoring stuck partition orders/0 (lag 5000): offset unchanged since the last poll; ' +
        'drain in 60s: ceil((400/s produced + 0 / 60s) / 500/s per replica) = 1; scaling 2 → 1',
    },
    {
      behaviour: 'does not call a partition stuck when no partition moved',
      input: input({
        partitions: parts([60000, 0, 0, 0, 0, 0, 0, 0], [100, 200, 300, 400, 500, 600, 700, 800]),
        produceRate: 0,
        currentReplicas: 2,
        readyReplicas: 2,
      }),
      spec: spec(noHistory),
      state: state({ capacityPerReplica: 500, offsets: { 'orders/0': 100, 'orders/1': 200 } }),
      desired: 2,
      reason: 'Hold',
      message:
        'lag 60000 on 8 partitions; drain in 60s: ceil((0/s produced + 60000 / 60s) / 500/s per replica) = 2; staying at 2',
    },
    {
      behaviour: 'scales to zero with minReplicas 0 when nothing is produced and nothing is left',
      input: input({ produceRate: 0, consumeRate: 0 }),
      spec: spec({ minReplicas: 0, ...noHistory }),
      state: capacity500,
      desired: 0,
      reason: 'ScaleDown',
      message:
        'lag 0 on 8 partitions; idle: lag 0 <= activationLagThreshold 0 and nothing produced; scaling 2 → 0',
    },
    {
      behaviour: 'keeps consumers that keep up with production even with minReplicas 0',
      input: input({ produceRate: 400, consumeRate: 400 }),
      spec: spec({ minReplicas: 0, ...noHistory }),
      state: capacity500,
      desired: 1,
      reason: 'ScaleDown',
      message:
        'lag 0 on 8 partitions; drain in 60s: ceil((400/s produced + 0 / 60s) / 500/s per replica) = 1; scaling 2 → 1',
    },
  ]);

  it('remembers offsets, lag, produce rate and the recommendation for the next poll', () => {
    const d = drainTimePolicy(
      input({ partitions: parts([100, 0]), produceRate: 300, currentReplicas: 1, readyReplicas: 1 }),
      spec(),
      capacity500,
    );
    expect(d.state).to.deep.equal({
      recommendations: [
        { at: NOW, replicas: 1 },
        { at: NOW, replicas: 1 },
      ],
      offsets: { 'orders/0': 1000, 'orders/1': 1001 },
      lastPollAt: NOW,
      lastLag: 100,
      lastProduceRate: 300,
      capacityPerReplica: 500,
      lastScaleTime: undefined,
    });
    expect(d.totalLag).to.equal(100);
    expect(d.lagByTopic).to.deep.equal({ orders: 100 });
  });

  it('records lastScaleTime when it scales, and reports stuck partitions', () => {
    const d = drainTimePolicy(
      input({
        partitions: parts([5000, 0, 0, 0, 0, 0, 0, 0], [100, 201, 300, 400, 500, 600, 700, 800]),
        produceRate: 400,
      }),
      spec(noHistory),
      state({ capacityPerReplica: 500, offsets: { 'orders/0': 100, 'orders/1': 200 } }),
    );
    expect(d.state.lastScaleTime).to.equal(NOW);
    expect(d.stuckPartitions).to.deep.equal(['orders/0']);
  });
});

describe('autoscalerConditions', () => {
  const now = new Date('2025-01-02T03:04:05.000Z');
  it('is Ready and Active while scaling', () => {
    const d = kedaPolicy(input({ partitions: lag400 }), spec(), INITIAL_STATE);
    expect(autoscalerConditions(d, 4, now)).to.deep.equal([
      {
        type: 'Ready',
        status: 'True',
        reason: 'ScaleUp',
        message: 'lag 400 on 8 partitions; lag/threshold ceil(400 / 100) = 4; scaling 2 → 4',
        lastTransitionTime: now.toISOString(),
        observedGeneration: 4,
      },
      {
        type: 'Active',
        status: 'True',
        reason: 'Consuming',
        message: '4 replica(s) wanted',
        lastTransitionTime: now.toISOString(),
        observedGeneration: 4,
      },
    ]);
  });

  it('is Ready=False with the spec errors for a bad spec', () => {
    const d = kedaPolicy(input(), spec({ lagThreshold: 0 }), INITIAL_STATE);
    expect(autoscalerConditions(d, 4, now)).to.deep.equal([
      {
        type: 'Ready',
        status: 'False',
        reason: 'InvalidSpec',
        message: 'spec.lagThreshold must be a number > 0 (got 0)',
        lastTransitionTime: now.toISOString(),
        observedGeneration: 4,
      },
    ]);
  });

  it('is Active=False when scaled to zero', () => {
    const d = drainTimePolicy(input({ produceRate: 0 }), spec({ minReplicas: 0, ...noHistory }), capacity500);
    expect(autoscalerConditions(d, 1, now).find((c) => c.type === 'Active')).to.include({
      status: 'False',
      reason: 'ScaledToZero',
    });
  });
});
