/**
 * Replays traffic profiles through both ConsumerAutoscaler policies and prints them side by side:
 * KEDA's lag / lagThreshold rule (as an HPA applies it) and our drain-time rule, with the same
 * spec (threshold, min/max, windows). Discrete time, 1 s ticks, deterministic; runs in seconds.
 *
 *   node --import tsx scripts/bench/autoscale-sim.ts
 */
import {
  drainTimePolicy,
  INITIAL_STATE,
  kedaPolicy,
  type AutoscaleState,
  type ScalingPolicy,
} from '../../operators/src/autoscale/policy.ts';
import { observe, type OffsetSnapshot } from '../../operators/src/autoscale/observe.ts';
import type { ConsumerAutoscalerSpec } from '../../operators/src/autoscale/types.ts';

const PARTITIONS = 64;
const CAPACITY = 500; // msgs/s one ready replica consumes
const STARTUP_S = 20; // pod start until it consumes
const REBALANCE_S = 3; // whole group pauses when membership changes (eager rebalance)
const POLL_S = 15;
const DRAINED_DELAY_S = 5; // "drained": lag is at most this many seconds of current production

const spec: ConsumerAutoscalerSpec = {
  scaleTargetRef: { name: 'worker' },
  consumerGroup: 'workers',
  topics: ['chat.messages'],
  lagThreshold: 1000,
  minReplicas: 1,
  maxReplicas: 40,
  pollingIntervalSeconds: POLL_S,
  scaleUpStabilizationSeconds: 0,
  scaleDownStabilizationSeconds: 300,
  targetDrainSeconds: 60,
};

interface Profile {
  name: string;
  seconds: number;
  rate: (t: number) => number;
  /** A partition whose consumer stops committing at this time (poison message). */
  stuck?: { partition: number; from: number };
}

/** Deterministic noise in [-1, 1] (a small LCG), so the diurnal profile is not a perfect sine. */
function noise(seed: number): (t: number) => number {
  const values: number[] = [];
  let x = seed;
  return (t) => {
    while (values.length <= t) {
      x = (x * 1664525 + 1013904223) % 4294967296;
      values.push((x / 4294967296) * 2 - 1);
    }
    return values[t]!;
  };
}

const jitter = noise(7);
const profiles: Profile[] = [
  { name: 'step', seconds: 2400, rate: (t) => (t >= 300 && t < 1500 ? 8000 : 1000) },
  { name: 'spike', seconds: 1800, rate: (t) => (t >= 300 && t < 360 ? 15000 : 1000) },
  {
    name: 'ramp',
    seconds: 2700,
    rate: (t) =>
      t < 120
        ? 500
        : t < 1320
          ? 500 + ((t - 120) / 1200) * 11500
          : t < 1620
            ? 12000
            : t < 2220
              ? 12000 - ((t - 1620) / 600) * 11500
              : 500,
  },
  {
    name: 'diurnal',
    seconds: 3600,
    rate: (t) => Math.max(0, (4000 - 3500 * Math.cos((2 * Math.PI * t) / 1800)) * (1 + 0.05 * jitter(t))),
  },
  { name: 'stuck', seconds: 1800, rate: () => 3000, stuck: { partition: 7, from: 300 } },
];

interface Result {
  peakLag: number;
  drainSeconds: number | undefined;
  meanDelay: number;
  replicaMinutes: number;
  scaleEvents: number;
  maxReplicas: number;
}

function simulate(profile: Profile, policy: ScalingPolicy): Result {
  const end = new Array<number>(PARTITIONS).fill(0);
  const committed = new Array<number>(PARTITIONS).fill(0);
  const carry = new Array<number>(PARTITIONS).fill(0);
  // Start in equilibrium for the opening rate, as a running system would be.
  const initial = Math.max(spec.minReplicas ?? 1, Math.ceil(profile.rate(0) / CAPACITY));
  let pods: number[] = new Array<number>(initial).fill(0); // when each pod is ready, oldest first
  let readyBefore = initial;
  let pausedUntil = 0;
  let state: AutoscaleState = INITIAL_STATE;
  let previous: OffsetSnapshot | undefined;
  const lagSeries: number[] = [];
  const rateSeries: number[] = [];
  let produced = 0;
  let lagSeconds = 0;
  let podSeconds = 0;
  let scaleEvents = 0;
  let maxReplicas = pods.length;
  const isStuck = (p: number, t: number) =>
    profile.stuck !== undefined && p === profile.stuck.partition && t >= profile.stuck.from;

  for (let t = 0; t < profile.seconds; t++) {
    // Produce, spread evenly over partitions (keyed traffic), fractions carried per partition.
    const rate = profile.rate(t);
    for (let p = 0; p < PARTITIONS; p++) {
      carry[p]! += rate / PARTITIONS;
      const whole = Math.floor(carry[p]!);
      carry[p]! -= whole;
      end[p]! += whole;
      produced += whole;
    }

    // Consume: partitions assigned round-robin over ready pods; each pod shares its capacity
    // among its partitions that have a backlog (water-filling).
    const ready = pods.filter((at) => at <= t).length;
    if (ready !== readyBefore) pausedUntil = t + REBALANCE_S;
    readyBefore = ready;
    if (ready > 0 && t >= pausedUntil) {
      for (let c = 0; c < ready; c++) {
        let budget = CAPACITY;
        let owned = [];
        for (let p = c; p < PARTITIONS; p += ready) if (!isStuck(p, t)) owned.push(p);
        while (budget > 1e-9 && owned.length > 0) {
          owned = owned.filter((p) => end[p]! - committed[p]! > 1e-9);
          if (owned.length === 0) break;
          const share = budget / owned.length;
          for (const p of owned) {
            const take = Math.min(share, end[p]! - committed[p]!);
            committed[p]! += take;
            budget -= take;
          }
        }
      }
    }

    let lag = 0;
    for (let p = 0; p < PARTITIONS; p++) if (!isStuck(p, t)) lag += end[p]! - committed[p]!;
    lagSeries.push(lag);
    rateSeries.push(rate);
    lagSeconds += lag;
    podSeconds += pods.length;

    if (t > 0 && t % POLL_S === 0) {
      const snapshot: OffsetSnapshot = {
        at: t * 1000,
        partitions: end.map((e, p) => ({
          topic: 'chat.messages',
          partition: p,
          committedOffset: Math.floor(committed[p]!),
          logStartOffset: 0,
          logEndOffset: e,
        })),
      };
      const decision = policy(
        {
          ...observe(previous, snapshot),
          now: t * 1000,
          currentReplicas: pods.length,
          readyReplicas: ready,
          target: 'present',
        },
        spec,
        state,
      );
      previous = snapshot;
      state = decision.state;
      const want = decision.desiredReplicas;
      if (want !== pods.length) {
        scaleEvents++;
        if (want > pods.length)
          pods = [...pods, ...new Array<number>(want - pods.length).fill(t + STARTUP_S)];
        else pods = pods.slice(0, want); // newest (not yet ready) pods go first, as a ReplicaSet does
        maxReplicas = Math.max(maxReplicas, want);
      }
    }
  }

  let peakAt = 0;
  lagSeries.forEach((l, i) => {
    if (l > lagSeries[peakAt]!) peakAt = i;
  });
  let drainSeconds: number | undefined;
  for (let i = peakAt; i < lagSeries.length; i++) {
    if (lagSeries[i]! <= DRAINED_DELAY_S * rateSeries[i]!) {
      drainSeconds = i - peakAt;
      break;
    }
  }
  return {
    peakLag: lagSeries[peakAt]!,
    drainSeconds,
    meanDelay: lagSeconds / Math.max(1, produced),
    replicaMinutes: podSeconds / 60,
    scaleEvents,
    maxReplicas,
  };
}

const columns = [
  'profile',
  'policy',
  'peak lag',
  'drain s',
  'mean delay s',
  'replica-min',
  'scale events',
  'max replicas',
];
const rows: string[][] = [];
const verdicts: string[] = [];
const fmt = (n: number | undefined, digits = 0) => (n === undefined ? 'never' : n.toFixed(digits));
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? 'n/a' : b === 0 ? (a === 0 ? '1.00' : 'inf') : (a / b).toFixed(2);

for (const profile of profiles) {
  const keda = simulate(profile, kedaPolicy);
  const ours = simulate(profile, drainTimePolicy);
  const row = (label: string, r: Result) => [
    label === 'KEDA (lag)' ? profile.name : '',
    label,
    fmt(r.peakLag),
    fmt(r.drainSeconds),
    fmt(r.meanDelay, 2),
    fmt(r.replicaMinutes, 1),
    String(r.scaleEvents),
    String(r.maxReplicas),
  ];
  rows.push(row('KEDA (lag)', keda), row('ours (drain)', ours));
  rows.push([
    '',
    'ours/KEDA',
    ratio(ours.peakLag, keda.peakLag),
    ratio(ours.drainSeconds, keda.drainSeconds),
    ratio(ours.meanDelay, keda.meanDelay),
    ratio(ours.replicaMinutes, keda.replicaMinutes),
    ratio(ours.scaleEvents, keda.scaleEvents),
    ratio(ours.maxReplicas, keda.maxReplicas),
  ]);
  const losses: string[] = [];
  if (ours.peakLag > keda.peakLag * 1.05) losses.push('peak lag');
  if ((ours.drainSeconds ?? Infinity) > (keda.drainSeconds ?? Infinity) * 1.05) losses.push('drain time');
  if (ours.meanDelay > keda.meanDelay * 1.05) losses.push('mean delay');
  if (ours.replicaMinutes > keda.replicaMinutes * 1.05) losses.push('replica-minutes');
  if (ours.scaleEvents > keda.scaleEvents * 1.05) losses.push('scale events');
  verdicts.push(
    `${profile.name}: ${losses.length === 0 ? 'ours is not worse on any metric (5% margin)' : `ours LOSES on ${losses.join(', ')}`}`,
  );
}

const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(
  `autoscale-sim: ${PARTITIONS} partitions, ${CAPACITY} msg/s per replica, ${STARTUP_S}s pod start-up, ` +
    `${REBALANCE_S}s rebalance pause, poll ${POLL_S}s`,
);
console.log(
  `spec for both: lagThreshold ${spec.lagThreshold}, replicas ${spec.minReplicas}-${spec.maxReplicas}, ` +
    `scale-up window ${spec.scaleUpStabilizationSeconds}s, scale-down window ${spec.scaleDownStabilizationSeconds}s; ` +
    `ours: targetDrainSeconds ${spec.targetDrainSeconds}`,
);
console.log(
  `peer: KEDA Kafka scaler rule (ceil(lag/lagThreshold), HPA 10% tolerance, defaults: no excludePersistentLag)\n` +
    `drain s: from the peak until lag <= ${DRAINED_DELAY_S}s of production; mean delay: lag-seconds / messages ` +
    `(Little's law); lag excludes the stuck partition\n`,
);
console.log(line(columns));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log('\n' + verdicts.join('\n'));
console.log(
  '\nnotes: ours learns per-replica capacity only from polls where the consumers were saturated; until then it\n' +
    'uses the lag rule and halves at most per scale-down, and that first saturation is where most of its peak lag\n' +
    'comes from. In "stuck", KEDA counts the stuck partition\'s growing lag and climbs to maxReplicas, which also\n' +
    'keeps its healthy-partition lag lower at the cost of the replica-minutes in the table.',
);
