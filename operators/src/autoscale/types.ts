import { isRecord, show, type Condition, type ObjectMeta, type Validated } from '../meta.ts';

export const CONSUMER_AUTOSCALER_KIND = 'ConsumerAutoscaler';

export type OffsetResetPolicy = 'latest' | 'earliest';
export type ScalingPolicyName = 'DrainTime' | 'Lag';

export interface ScaleTargetRef {
  /** @default apps/v1 */
  apiVersion?: string;
  /** @default Deployment */
  kind?: string;
  name: string;
}

export interface ConsumerAutoscalerSpec {
  scaleTargetRef: ScaleTargetRef;
  consumerGroup: string;
  topics: string[];
  /** Acceptable lag per replica (KEDA's lagThreshold). */
  lagThreshold: number;
  /** At or below this total lag the consumer is idle (only matters with minReplicas 0). @default 0 */
  activationLagThreshold?: number;
  /** 0 opts in to scale to zero. @default 1 */
  minReplicas?: number;
  maxReplicas: number;
  /** @default 15 */
  pollingIntervalSeconds?: number;
  /** A scale-up takes the smallest recommendation of this window (HPA behavior). @default 0 */
  scaleUpStabilizationSeconds?: number;
  /** A scale-down takes the largest recommendation of this window (HPA behavior). @default 300 */
  scaleDownStabilizationSeconds?: number;
  /** No scale-down sooner than this after the last scale. @default 0 */
  cooldownSeconds?: number;
  /** How a consumer without a committed offset starts; earliest counts the whole log as lag. @default latest */
  offsetResetPolicy?: OffsetResetPolicy;
  /** DrainTime (ours, rate-aware) or Lag (KEDA's lag / lagThreshold). @default DrainTime */
  policy?: ScalingPolicyName;
  /** DrainTime: drain the backlog within this many seconds. @default 60 */
  targetDrainSeconds?: number;
}

export interface ConsumerAutoscalerStatus {
  conditions?: Condition[];
  observedGeneration?: number;
  totalLag?: number;
  lagByTopic?: Record<string, number>;
  stuckPartitions?: string[];
  desiredReplicas?: number;
  currentReplicas?: number;
  lastScaleTime?: string;
}

export interface ConsumerAutoscaler {
  apiVersion: 'parley.dev/v1alpha1';
  kind: 'ConsumerAutoscaler';
  metadata: ObjectMeta;
  spec: ConsumerAutoscalerSpec;
  status?: ConsumerAutoscalerStatus;
}

export type ResolvedAutoscalerSpec = Required<Omit<ConsumerAutoscalerSpec, 'scaleTargetRef'>> & {
  scaleTargetRef: Required<ScaleTargetRef>;
};

export const AUTOSCALER_DEFAULTS = {
  activationLagThreshold: 0,
  minReplicas: 1,
  pollingIntervalSeconds: 15,
  scaleUpStabilizationSeconds: 0,
  scaleDownStabilizationSeconds: 300,
  cooldownSeconds: 0,
  offsetResetPolicy: 'latest',
  policy: 'DrainTime',
  targetDrainSeconds: 60,
} as const;

const MAX_WINDOW_SECONDS = 3600; // HPA's limit for stabilizationWindowSeconds

/** Checks a ConsumerAutoscaler spec field by field and across fields, and applies defaults. */
export function validateAutoscalerSpec(spec: unknown): Validated<ResolvedAutoscalerSpec> {
  if (!isRecord(spec)) return { ok: false, errors: [`spec must be an object (got ${show(spec)})`] };
  const errors: string[] = [];
  const s: Record<string, unknown> = { ...AUTOSCALER_DEFAULTS, ...withoutUndefined(spec) };

  const ref = spec.scaleTargetRef;
  let target: Required<ScaleTargetRef> = { apiVersion: 'apps/v1', kind: 'Deployment', name: '' };
  if (!isRecord(ref)) errors.push(`spec.scaleTargetRef must be an object (got ${show(ref)})`);
  else {
    if (typeof ref.name !== 'string' || ref.name === '') {
      errors.push(`spec.scaleTargetRef.name must be a non-empty string (got ${show(ref.name)})`);
    }
    if (ref.kind !== undefined && ref.kind !== 'Deployment') {
      errors.push(`spec.scaleTargetRef.kind must be Deployment (got ${show(ref.kind)})`);
    }
    if (ref.apiVersion !== undefined && ref.apiVersion !== 'apps/v1') {
      errors.push(`spec.scaleTargetRef.apiVersion must be apps/v1 (got ${show(ref.apiVersion)})`);
    }
    target = { apiVersion: 'apps/v1', kind: 'Deployment', name: String(ref.name) };
  }
  if (typeof s.consumerGroup !== 'string' || s.consumerGroup === '') {
    errors.push(`spec.consumerGroup must be a non-empty string (got ${show(s.consumerGroup)})`);
  }
  if (!Array.isArray(s.topics) || s.topics.length === 0) {
    errors.push(`spec.topics must be a non-empty list of topic names (got ${show(s.topics)})`);
  } else {
    const seen = new Set<string>();
    s.topics.forEach((t: unknown, i: number) => {
      if (typeof t !== 'string' || t === '')
        errors.push(`spec.topics[${i}] must be a non-empty string (got ${show(t)})`);
      else if (seen.has(t)) errors.push(`spec.topics lists ${show(t)} more than once`);
      else seen.add(t);
    });
  }
  const number = (
    field: string,
    v: unknown,
    min: number,
    strict: boolean,
    integer: boolean,
    max?: number,
  ) => {
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (strict ? v > min : v >= min) &&
      (!integer || Number.isInteger(v)) &&
      (max === undefined || v <= max);
    if (!ok) {
      const kind = integer ? 'an integer' : 'a number';
      const range = max !== undefined ? `between ${min} and ${max}` : `${strict ? '>' : '>='} ${min}`;
      errors.push(`spec.${field} must be ${kind} ${range} (got ${show(v)})`);
    }
    return ok;
  };
  number('lagThreshold', s.lagThreshold, 0, true, false);
  number('activationLagThreshold', s.activationLagThreshold, 0, false, false);
  const minOk = number('minReplicas', s.minReplicas, 0, false, true);
  const maxOk = number('maxReplicas', s.maxReplicas, 1, false, true);
  if (minOk && maxOk && (s.minReplicas as number) > (s.maxReplicas as number)) {
    errors.push(`spec.minReplicas (${s.minReplicas}) must be <= spec.maxReplicas (${s.maxReplicas})`);
  }
  number('pollingIntervalSeconds', s.pollingIntervalSeconds, 1, false, true);
  number('scaleUpStabilizationSeconds', s.scaleUpStabilizationSeconds, 0, false, true, MAX_WINDOW_SECONDS);
  number(
    'scaleDownStabilizationSeconds',
    s.scaleDownStabilizationSeconds,
    0,
    false,
    true,
    MAX_WINDOW_SECONDS,
  );
  number('cooldownSeconds', s.cooldownSeconds, 0, false, true);
  number('targetDrainSeconds', s.targetDrainSeconds, 0, true, false);
  if (s.offsetResetPolicy !== 'latest' && s.offsetResetPolicy !== 'earliest') {
    errors.push(`spec.offsetResetPolicy must be one of latest, earliest (got ${show(s.offsetResetPolicy)})`);
  }
  if (s.policy !== 'DrainTime' && s.policy !== 'Lag') {
    errors.push(`spec.policy must be one of DrainTime, Lag (got ${show(s.policy)})`);
  }

  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { ...(s as unknown as ResolvedAutoscalerSpec), scaleTargetRef: target } };
}

function withoutUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
