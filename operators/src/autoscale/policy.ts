/**
 * The ConsumerAutoscaler decision core: two pure policies with one signature. `kedaPolicy` is
 * KEDA's Kafka scaler behind an HPA (replicas = ceil(lag / lagThreshold)); `drainTimePolicy` is
 * ours (enough replicas to keep up with production and drain the backlog within a target time).
 * Both share validation, target checks, caps, HPA-style stabilization and the cooldown.
 */
import { upsertCondition, type Condition } from '../meta.ts';
import { validateAutoscalerSpec, type ConsumerAutoscalerSpec, type ResolvedAutoscalerSpec } from './types.ts';

/** One partition of the group's topics as the loop observed it. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** Log end offset minus committed offset; null when the group has no committed offset here. */
  lag: number | null;
  /** Lets drainTimePolicy notice a partition whose consumer is not moving. */
  committedOffset?: number | null;
  /** Log end minus log start: the lag an `earliest` consumer without a committed offset starts with. */
  logSize?: number;
}

export type TargetState = 'present' | 'missing' | 'paused';

export interface AutoscaleInput {
  /** Milliseconds since the epoch. */
  now: number;
  /** Every partition of spec.topics; its length is the most consumers that can get an assignment. */
  partitions: PartitionLag[];
  /** Messages/s appended to the topics since the last poll; undefined on the first poll. */
  produceRate?: number;
  /** Messages/s committed by the whole group since the last poll; undefined on the first poll. */
  consumeRate?: number;
  /** The Deployment's spec.replicas. */
  currentReplicas: number;
  /** The Deployment's status.readyReplicas: the consumers that produced consumeRate. */
  readyReplicas: number;
  target: TargetState;
}

export interface Recommendation {
  at: number;
  replicas: number;
}

/** What a policy remembers between polls (in the loop's memory, like the HPA controller's). */
export interface AutoscaleState {
  recommendations: Recommendation[];
  lastScaleTime?: number;
  lastPollAt?: number;
  /** Total lag (stuck partitions excluded) at the last poll. */
  lastLag?: number;
  /** Committed offsets at the last poll, by "topic/partition". */
  offsets: Record<string, number>;
  /** Produce rate at the last poll, for the trend. */
  lastProduceRate?: number;
  /** Learned msgs/s one ready replica consumes when it has a backlog. */
  capacityPerReplica?: number;
}

export const INITIAL_STATE: AutoscaleState = Object.freeze({
  recommendations: [],
  offsets: {},
}) as AutoscaleState;

/** Closed set; becomes the reason of the Ready condition. The message says why in numbers. */
export type DecisionReason =
  'InvalidSpec' | 'TargetMissing' | 'TargetPaused' | 'ScaleUp' | 'ScaleDown' | 'Hold';

export interface Decision {
  desiredReplicas: number;
  reason: DecisionReason;
  message: string;
  totalLag: number;
  lagByTopic: Record<string, number>;
  stuckPartitions: string[];
  state: AutoscaleState;
}

export type ScalingPolicy = (
  input: AutoscaleInput,
  spec: ConsumerAutoscalerSpec,
  state: AutoscaleState,
) => Decision;

/** The tolerance the HPA controller applies before acting on a metric ratio. */
export const HPA_TOLERANCE = 0.1;

interface Observation {
  spec: ResolvedAutoscalerSpec;
  totalLag: number;
  lagByTopic: Record<string, number>;
  lagNote: string;
  noCommittedOffsets: boolean;
  offsets: Record<string, number>;
  /** Partitions with lag whose committed offset did not move while others did. */
  stuck: { key: string; lag: number }[];
}

type Prepared = { done: Decision } | { obs: Observation };

function keyOf(p: PartitionLag): string {
  return `${p.topic}/${p.partition}`;
}

function prepare(input: AutoscaleInput, rawSpec: ConsumerAutoscalerSpec, state: AutoscaleState): Prepared {
  const lagByTopic: Record<string, number> = {};
  const offsets: Record<string, number> = {};
  let totalLag = 0;
  let uncommitted = 0;
  const validated = validateAutoscalerSpec(rawSpec);
  const earliest = validated.ok && validated.value.offsetResetPolicy === 'earliest';
  const lags: number[] = [];
  for (const p of input.partitions) {
    let lag = p.lag;
    if (lag === null) {
      uncommitted++;
      lag = earliest ? (p.logSize ?? 0) : 0;
    }
    lags.push(lag);
    lagByTopic[p.topic] = (lagByTopic[p.topic] ?? 0) + lag;
    totalLag += lag;
    if (typeof p.committedOffset === 'number') offsets[keyOf(p)] = p.committedOffset;
  }
  const hold = (reason: DecisionReason, message: string): Prepared => ({
    done: {
      desiredReplicas: input.currentReplicas,
      reason,
      message,
      totalLag,
      lagByTopic,
      stuckPartitions: [],
      state: { ...state, offsets, lastPollAt: input.now },
    },
  });
  if (!validated.ok) return hold('InvalidSpec', validated.errors.join('; '));
  const spec = validated.value;
  const target = `Deployment "${spec.scaleTargetRef.name}"`;
  if (input.target === 'missing') return hold('TargetMissing', `${target} not found: not scaling`);
  if (input.target === 'paused') return hold('TargetPaused', `${target} is paused: not scaling`);

  const moved = input.partitions.some(
    (p) =>
      typeof p.committedOffset === 'number' &&
      state.offsets[keyOf(p)] !== undefined &&
      state.offsets[keyOf(p)] !== p.committedOffset,
  );
  const stuck: { key: string; lag: number }[] = [];
  if (moved && input.readyReplicas > 0) {
    input.partitions.forEach((p, i) => {
      const lag = lags[i]!;
      if (lag > 0 && typeof p.committedOffset === 'number' && state.offsets[keyOf(p)] === p.committedOffset) {
        stuck.push({ key: keyOf(p), lag });
      }
    });
  }
  let lagNote = `lag ${totalLag} on ${input.partitions.length} partitions`;
  if (uncommitted > 0) {
    lagNote += earliest
      ? ` (${uncommitted} without a committed offset counted from the log start: offsetResetPolicy earliest)`
      : ` (${uncommitted} without a committed offset counted as 0: offsetResetPolicy latest)`;
  }
  return {
    obs: {
      spec,
      totalLag,
      lagByTopic,
      lagNote,
      noCommittedOffsets: input.partitions.length > 0 && uncommitted === input.partitions.length && !earliest,
      offsets,
      stuck,
    },
  };
}

/** A policy's raw recommendation (before caps and stabilization) and why. */
interface Rule {
  replicas: number;
  why: string;
}

/** Shared tail: caps, stabilization windows, cooldown, message and the next state. */
function finish(
  input: AutoscaleInput,
  obs: Observation,
  state: AutoscaleState,
  rule: Rule,
  extra: Partial<AutoscaleState> & { lastLag: number },
): Decision {
  const { spec } = obs;
  const parts = [obs.lagNote];
  if (obs.stuck.length > 0) {
    parts.push(
      `ignoring stuck partition${obs.stuck.length > 1 ? 's' : ''} ${obs.stuck.map((s) => `${s.key} (lag ${s.lag})`).join(', ')}: offset unchanged since the last poll`,
    );
  }
  parts.push(rule.why);

  const partitions = input.partitions.length;
  let rec = rule.replicas;
  if (rec < spec.minReplicas) {
    rec = spec.minReplicas;
    parts.push(`raised to minReplicas ${rec}`);
  }
  if (rec > spec.maxReplicas) {
    rec = spec.maxReplicas;
    parts.push(`capped at maxReplicas ${rec}`);
  }
  if (partitions > 0 && rec > partitions) {
    rec = partitions;
    parts.push(`capped at ${partitions} partitions (more consumers would sit idle)`);
  }

  // HPA's stabilization: a scale-up takes the smallest recommendation of its window, a
  // scale-down the largest of its window; the current recommendation is in both.
  const now = input.now;
  const upCut = now - spec.scaleUpStabilizationSeconds * 1000;
  const downCut = now - spec.scaleDownStabilizationSeconds * 1000;
  const keepCut = Math.min(upCut, downCut);
  // Like the HPA controller, seed an empty history with the current count, so a restarted
  // operator does not read one quiet poll as a window's worth of them.
  const seed = state.recommendations.length === 0 ? [{ at: now, replicas: input.currentReplicas }] : [];
  const history = [
    ...seed,
    ...state.recommendations.filter((r) => r.at > keepCut),
    { at: now, replicas: rec },
  ];
  let up = rec;
  let down = rec;
  for (const r of history) {
    if (r.at > upCut) up = Math.min(up, r.replicas);
    if (r.at > downCut) down = Math.max(down, r.replicas);
  }
  const current = input.currentReplicas;
  let desired = current;
  if (desired < up) desired = up;
  if (desired > down) desired = down;
  if (desired < rec && desired !== current) {
    parts.push(
      `scale-up to ${rec} limited to ${desired} by the ${spec.scaleUpStabilizationSeconds}s scale-up window`,
    );
  } else if (desired < rec) {
    parts.push(`scale-up to ${rec} held by the ${spec.scaleUpStabilizationSeconds}s scale-up window`);
  } else if (desired > rec && desired !== current) {
    parts.push(
      `scale-down to ${rec} limited to ${desired} by the ${spec.scaleDownStabilizationSeconds}s scale-down window`,
    );
  } else if (desired > rec) {
    parts.push(`scale-down to ${rec} held by the ${spec.scaleDownStabilizationSeconds}s scale-down window`);
  }

  const sinceScale = state.lastScaleTime === undefined ? Infinity : now - state.lastScaleTime;
  if (desired < current && current <= spec.maxReplicas && sinceScale < spec.cooldownSeconds * 1000) {
    parts.push(
      `scale-down to ${desired} deferred: last scale ${Math.round(sinceScale / 1000)}s ago, cooldownSeconds ${spec.cooldownSeconds}`,
    );
    desired = current;
  }

  const reason: DecisionReason = desired > current ? 'ScaleUp' : desired < current ? 'ScaleDown' : 'Hold';
  parts.push(desired === current ? `staying at ${current}` : `scaling ${current} → ${desired}`);
  return {
    desiredReplicas: desired,
    reason,
    message: parts.join('; '),
    totalLag: obs.totalLag,
    lagByTopic: obs.lagByTopic,
    stuckPartitions: obs.stuck.map((s) => s.key),
    state: {
      ...state,
      ...extra,
      recommendations: history,
      offsets: obs.offsets,
      lastPollAt: now,
      lastScaleTime: desired !== current ? now : state.lastScaleTime,
    },
  };
}

function noOffsetsRule(obs: Observation): Rule {
  const n = Math.max(obs.spec.minReplicas, 1);
  return {
    replicas: n,
    why: `consumer group "${obs.spec.consumerGroup}" has no committed offsets: holding at ${n} replica${n > 1 ? 's' : ''} until it commits`,
  };
}

function lagRule(lag: number, spec: ResolvedAutoscalerSpec, prefix = ''): Rule {
  const n = Math.ceil(lag / spec.lagThreshold);
  return { replicas: n, why: `${prefix}lag/threshold ceil(${lag} / ${spec.lagThreshold}) = ${n}` };
}

/** Scale to zero is opt-in: only with minReplicas 0 and lag at or below the activation threshold. */
function idleRule(lag: number, spec: ResolvedAutoscalerSpec, why = ''): Rule {
  return {
    replicas: 0,
    why: `idle: lag ${lag} <= activationLagThreshold ${spec.activationLagThreshold}${why}`,
  };
}

/** KEDA's Kafka scaler through an HPA: ceil(totalLag / lagThreshold), within HPA's tolerance. */
export const kedaPolicy: ScalingPolicy = (input, rawSpec, state) => {
  const prepared = prepare(input, rawSpec, state);
  if ('done' in prepared) return prepared.done;
  const obs = { ...prepared.obs, stuck: [] }; // KEDA's default counts every partition's lag
  const { spec, totalLag } = obs;
  const current = input.currentReplicas;
  let rule: Rule;
  if (obs.noCommittedOffsets) rule = noOffsetsRule(obs);
  else {
    if (spec.minReplicas === 0 && totalLag <= spec.activationLagThreshold) rule = idleRule(totalLag, spec);
    else {
      rule = lagRule(totalLag, spec);
      const ratio = current > 0 ? totalLag / (current * spec.lagThreshold) : 0;
      if (current > 0 && Math.abs(ratio - 1) <= HPA_TOLERANCE) {
        rule = {
          replicas: current,
          why: `${rule.why}, but ratio ${ratio.toFixed(2)} is within the 10% tolerance: ${current}`,
        };
      }
    }
  }
  return finish(input, obs, state, rule, { lastLag: totalLag });
};

/**
 * Ours: replicas = ceil((produceRate + lag / targetDrainSeconds) / capacityPerReplica), with the
 * per-replica capacity learned from polls where the consumers had a backlog throughout. Falls back
 * to the lag/threshold rule until rates and capacity are known. Stuck partitions do not count.
 */
export const drainTimePolicy: ScalingPolicy = (input, rawSpec, state) => {
  const prepared = prepare(input, rawSpec, state);
  if ('done' in prepared) return prepared.done;
  const { obs } = prepared;
  const { spec } = obs;
  const lag = obs.totalLag - obs.stuck.reduce((sum, s) => sum + s.lag, 0);
  const capacity = learnCapacity(input, state, lag);
  const produce = input.produceRate;
  const current = input.currentReplicas;

  let rule: Rule;
  if (obs.noCommittedOffsets) rule = noOffsetsRule(obs);
  else {
    // With consumers running and messages arriving, low lag means they keep up, not that they
    // can go: the drain rule below then keeps ceil(produceRate / capacity) replicas.
    const quiet = produce === undefined || produce === 0 || current === 0;
    if (spec.minReplicas === 0 && lag <= spec.activationLagThreshold && quiet) {
      rule = idleRule(lag, spec, produce === 0 ? ' and nothing produced' : '');
    } else if (produce === undefined) rule = lagRule(lag, spec, 'rates not known yet, ');
    else if (capacity === undefined) {
      rule = lagRule(lag, spec, 'per-replica capacity not measured yet, ');
      // Without a capacity, a scale-down is a probe: halve at most, so the saturation that finally
      // measures capacity is a small one rather than a fall to minReplicas.
      const floor = Math.ceil(current / 2);
      if (produce > 0 && rule.replicas < floor) {
        rule = { replicas: floor, why: `${rule.why}, but at most halving while probing: ${floor}` };
      }
    } else {
      // The decision stands until the next poll: count the backlog that builds up by then if the
      // ready consumers cannot keep up, so one step covers a spike instead of several.
      // A rising produce rate is assumed to keep rising for one more poll.
      const trend = Math.round(Math.max(0, produce - (state.lastProduceRate ?? produce)));
      const rate = Math.round(produce) + trend;
      const growth = Math.round(
        Math.max(0, rate - input.readyReplicas * capacity) * spec.pollingIntervalSeconds,
      );
      const projected = lag + growth;
      let n = Math.ceil((rate + projected / spec.targetDrainSeconds) / capacity);
      const backlog = growth > 0 ? `(${lag} + ${growth} by the next poll)` : `${lag}`;
      const produced =
        trend > 0 ? `(${Math.round(produce)} + ${trend} rising)/s` : `${Math.round(produce)}/s`;
      let why = `drain in ${spec.targetDrainSeconds}s: ceil((${produced} produced + ${backlog} / ${spec.targetDrainSeconds}s) / ${Math.round(capacity)}/s per replica) = ${n}`;
      // The group keeps up only if its busiest consumer does: with balanced assignment it owns
      // ceil(P / n) partitions, each taking rate / P (keyed traffic spreads evenly).
      const partitions = input.partitions.length;
      const perPartition = partitions > 0 ? rate / partitions : 0;
      const busiest = (k: number) => Math.ceil(partitions / k) * perPartition;
      if (n > 0 && n < partitions && busiest(n) > capacity) {
        let k = n;
        while (k < partitions && busiest(k) > capacity) k++;
        const owned = Math.ceil(partitions / k);
        why += `, raised to ${k} so no consumer owns more than ${owned} partition${owned > 1 ? 's' : ''} (${Math.round(busiest(k))}/s)`;
        n = k;
      }
      rule = { replicas: n, why };
      // Tolerance on the way down only: holding back a scale-up lets the backlog term grow.
      if (n < current && n / current >= 1 - HPA_TOLERANCE) {
        rule = { replicas: current, why: `${why}, within the 10% tolerance of ${current}: ${current}` };
      }
    }
  }
  return finish(input, obs, state, rule, {
    lastLag: lag,
    capacityPerReplica: capacity,
    lastProduceRate: produce,
  });
};

/**
 * A poll measures capacity only when the backlog at the previous poll outlasted the interval
 * (every ready consumer was busy throughout); then an even blend with the old estimate. A busier
 * unsaturated poll can only raise the estimate: it is a lower bound.
 */
function learnCapacity(input: AutoscaleInput, state: AutoscaleState, lag: number): number | undefined {
  const old = state.capacityPerReplica;
  if (input.consumeRate === undefined || input.readyReplicas <= 0 || state.lastPollAt === undefined)
    return old;
  const perReplica = input.consumeRate / input.readyReplicas;
  const seconds = (input.now - state.lastPollAt) / 1000;
  const saturated = (state.lastLag ?? 0) >= input.consumeRate * seconds && lag > 0 && perReplica > 0;
  if (saturated) return old === undefined ? perReplica : (old + perReplica) / 2;
  return old !== undefined && perReplica > old ? perReplica : old;
}

export const POLICIES: Record<ResolvedAutoscalerSpec['policy'], ScalingPolicy> = {
  Lag: kedaPolicy,
  DrainTime: drainTimePolicy,
};

/** Ready (spec valid, target there and not paused) and Active (at least one replica wanted). */
export function autoscalerConditions(
  decision: Decision,
  generation: number | undefined,
  now: Date,
  previous?: readonly Condition[],
): Condition[] {
  const base = { lastTransitionTime: now.toISOString(), observedGeneration: generation };
  const broken =
    decision.reason === 'InvalidSpec' ||
    decision.reason === 'TargetMissing' ||
    decision.reason === 'TargetPaused';
  let conditions = upsertCondition(previous, {
    ...base,
    type: 'Ready',
    status: broken ? 'False' : 'True',
    reason: decision.reason,
    message: decision.message,
  });
  if (!broken) {
    const active = decision.desiredReplicas > 0;
    conditions = upsertCondition(conditions, {
      ...base,
      type: 'Active',
      status: active ? 'True' : 'False',
      reason: active ? 'Consuming' : 'ScaledToZero',
      message: active ? `${decision.desiredReplicas} replica(s) wanted` : 'no lag: scaled to zero',
    });
  }
  return conditions;
}
