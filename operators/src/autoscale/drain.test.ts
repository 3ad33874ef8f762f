import { expect } from 'chai';
import { autoscalerConditions, drainTimePolicy, INITIAL_STATE, kedaPolicy } from './policy.ts';
import { NOW, ago, spec, parts, input, state, noHistory, run, lag400, shared } from './policy.fixtures.ts';

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
