import { kedaPolicy } from './policy.ts';
import { ago, spec, parts, input, state, noHistory, run, lag400, shared } from './policy.fixtures.ts';

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
