/**
 * The Topic decision core: from the resource and what Kafka reports, what to do. No I/O; the
 * reconcile loop observes, calls these, runs the actions through the Kafka and Kubernetes adapters,
 * and writes the status built by `conditionsFor`.
 */
import { isManaged, upsertCondition, type Condition, type ObjectMeta } from '../meta.ts';
import {
  TOPIC_FINALIZER,
  validateTopicSpec,
  type ResolvedTopicSpec,
  type TopicSpec,
  type TopicStatus,
} from './types.ts';

/** Where a config value comes from (Kafka's DescribeConfigs `configSource`). */
export type ConfigSource =
  | 'DYNAMIC_TOPIC_CONFIG'
  | 'DYNAMIC_BROKER_LOGGER_CONFIG'
  | 'DYNAMIC_BROKER_CONFIG'
  | 'DYNAMIC_DEFAULT_BROKER_CONFIG'
  | 'STATIC_BROKER_CONFIG'
  | 'DEFAULT_CONFIG'
  | 'UNKNOWN';

export interface ObservedConfigEntry {
  value: string | null;
  source: ConfigSource;
}

/** A Kafka topic as the adapter describes it. */
export interface ObservedTopic {
  name: string;
  topicId?: string;
  partitions: number;
  /** Replicas of partition 0; the adapter reports the smallest across partitions if they differ. */
  replicationFactor: number;
  /** Every entry DescribeConfigs returns; only DYNAMIC_TOPIC_CONFIG ones are set on the topic itself. */
  config: Record<string, ObservedConfigEntry>;
}

/** The parts of a Topic resource the planners read. */
export interface TopicResource {
  metadata: ObjectMeta;
  spec: TopicSpec;
  status?: TopicStatus;
}

export interface PlanTopicOptions {
  /**
   * Set by the loop when an older Topic resource already manages the same Kafka topic name
   * (oldest creationTimestamp wins, as in Strimzi), e.g. `"parley/orders"`.
   */
  claimedBy?: string;
}

export interface ConfigDrift {
  key: string;
  /** The value set on the topic now; null when it is not set on the topic (broker default applies). */
  observed: string | null;
  /** The value the spec wants; null when the key must not be set on the topic. */
  desired: string | null;
}

export type TopicAction =
  | {
      kind: 'create';
      topicName: string;
      partitions: number;
      replicationFactor: number;
      config: Record<string, string>;
      /** status.topicId was set: the topic was deleted outside the operator. */
      recreated: boolean;
    }
  | { kind: 'adopt'; topicName: string; topicId: string | undefined; previousTopicId: string | undefined }
  | { kind: 'createPartitions'; topicName: string; from: number; to: number }
  | {
      kind: 'alterConfigs';
      topicName: string;
      set: Record<string, string>;
      delete: string[];
      /** True when some of this undoes changes made in Kafka outside the resource (emit an Event). */
      revertsDrift: boolean;
      drift: ConfigDrift[];
    }
  | { kind: 'none'; topicName: string };

/**
 * Closed set of reasons for Ready=False. The planner returns the first three; the loop maps
 * adapter failures to the last two. InvalidSpec is ours on top of the shared set: a bad spec is
 * the user's to fix (terminal until the generation changes) and is neither a Kafka limitation
 * (NotSupported) nor a failure (KafkaError/InternalError).
 */
export type TopicFailureReason =
  'InvalidSpec' | 'ResourceConflict' | 'NotSupported' | 'KafkaError' | 'InternalError';

export type TopicPlan =
  | { kind: 'actions'; spec: ResolvedTopicSpec; actions: TopicAction[] }
  | { kind: 'refused'; reason: 'InvalidSpec' | 'ResourceConflict' | 'NotSupported'; message: string }
  | { kind: 'unmanaged'; message: string };

/** What the loop hands `conditionsFor`: the plan, or the failure that stopped it running. */
export type TopicOutcome =
  TopicPlan | { kind: 'failed'; reason: 'KafkaError' | 'InternalError'; message: string };

const TOPIC_SOURCE: ConfigSource = 'DYNAMIC_TOPIC_CONFIG';

export function resolvedTopicName(resource: TopicResource): string {
  const name = resource.spec?.topicName;
  return typeof name === 'string' && name !== '' ? name : resource.metadata.name;
}

function qualified(meta: ObjectMeta): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

/** Decides what to change in Kafka so the topic matches the resource, or refuses to. */
export function planTopic(
  resource: TopicResource,
  observed: ObservedTopic | undefined,
  opts: PlanTopicOptions = {},
): TopicPlan {
  if (!isManaged(resource.metadata)) {
    return {
      kind: 'unmanaged',
      message: `parley.dev/managed is "false": the operator leaves Kafka topic "${resolvedTopicName(resource)}" alone`,
    };
  }
  const validated = validateTopicSpec(resource.spec, resource.metadata.name);
  if (!validated.ok) return { kind: 'refused', reason: 'InvalidSpec', message: validated.errors.join('; ') };
  const spec = validated.value;
  const name = spec.topicName;

  if (opts.claimedBy !== undefined && opts.claimedBy !== qualified(resource.metadata)) {
    return {
      kind: 'refused',
      reason: 'ResourceConflict',
      message: `Kafka topic "${name}" is already managed by Topic ${opts.claimedBy}`,
    };
  }

  const status = resource.status ?? {};
  if (!observed) {
    return {
      kind: 'actions',
      spec,
      actions: [
        {
          kind: 'create',
          topicName: name,
          partitions: spec.partitions,
          replicationFactor: spec.replicationFactor,
          config: spec.config,
          recreated: status.topicId !== undefined,
        },
      ],
    };
  }

  // Refuse the whole change, not just the unsupported part: Kafka stays as it is until the user
  // fixes the spec, so a half-applied spec is never mistaken for success.
  const unsupported: string[] = [];
  if (spec.partitions < observed.partitions) {
    unsupported.push(
      `Decreasing partitions is not supported: spec.partitions is ${spec.partitions} but topic "${name}" has ${observed.partitions}`,
    );
  }
  if (spec.replicationFactor !== observed.replicationFactor) {
    unsupported.push(
      `Changing the replication factor is not supported: spec.replicationFactor is ${spec.replicationFactor} but topic "${name}" has ${observed.replicationFactor}`,
    );
  }
  if (unsupported.length > 0)
    return { kind: 'refused', reason: 'NotSupported', message: unsupported.join('; ') };

  const actions: TopicAction[] = [];
  const adopting = status.topicId === undefined || status.topicId !== observed.topicId;
  if (adopting) {
    actions.push({
      kind: 'adopt',
      topicName: name,
      topicId: observed.topicId,
      previousTopicId: status.topicId,
    });
  }
  if (spec.partitions > observed.partitions) {
    actions.push({
      kind: 'createPartitions',
      topicName: name,
      from: observed.partitions,
      to: spec.partitions,
    });
  }
  const alter = diffConfig(name, spec.config, observed.config, adopting ? undefined : status.appliedConfig);
  if (alter) actions.push(alter);
  if (actions.length === 0) actions.push({ kind: 'none', topicName: name });
  return { kind: 'actions', spec, actions };
}

/**
 * Desired keys must be set on the topic itself with the desired value (a matching broker default
 * is not enough: the spec pins the value). Topic-level keys the spec does not name are removed.
 * With `lastApplied` known, a difference on a key whose desired state we already applied is drift.
 */
function diffConfig(
  topicName: string,
  desired: Record<string, string>,
  observed: Record<string, ObservedConfigEntry>,
  lastApplied: Record<string, string> | undefined,
): TopicAction | undefined {
  const set: Record<string, string> = {};
  const del: string[] = [];
  const drift: ConfigDrift[] = [];
  for (const key of Object.keys(desired).sort()) {
    const want = desired[key]!;
    const have = observed[key];
    const onTopic = have?.source === TOPIC_SOURCE ? have.value : null;
    if (onTopic === want) continue;
    set[key] = want;
    if (lastApplied !== undefined && lastApplied[key] === want)
      drift.push({ key, observed: onTopic, desired: want });
  }
  for (const key of Object.keys(observed).sort()) {
    const have = observed[key]!;
    if (have.source !== TOPIC_SOURCE || key in desired) continue;
    del.push(key);
    if (lastApplied !== undefined && !(key in lastApplied))
      drift.push({ key, observed: have.value, desired: null });
  }
  if (Object.keys(set).length === 0 && del.length === 0) return undefined;
  return { kind: 'alterConfigs', topicName, set, delete: del, revertsDrift: drift.length > 0, drift };
}

function list(keys: string[]): string {
  return keys.join(', ');
}

/** One line per action, for the Ready message and the log. */
export function describeAction(action: TopicAction): string {
  switch (action.kind) {
    case 'create':
      return `${action.recreated ? 're-created' : 'created'} topic "${action.topicName}" with ${action.partitions} partitions, replication factor ${action.replicationFactor}`;
    case 'adopt':
      return action.previousTopicId
        ? `adopted topic "${action.topicName}" (id ${action.topicId ?? 'unknown'}, was ${action.previousTopicId})`
        : `adopted existing topic "${action.topicName}"`;
    case 'createPartitions':
      return `increased partitions of "${action.topicName}" from ${action.from} to ${action.to}`;
    case 'alterConfigs': {
      const parts: string[] = [];
      const set = Object.keys(action.set);
      if (set.length > 0) parts.push(`set ${list(set)}`);
      if (action.delete.length > 0) parts.push(`removed ${list(action.delete)}`);
      const drift = action.revertsDrift
        ? ` (reverted changes made outside the Topic: ${list(action.drift.map((d) => d.key))})`
        : '';
      return `config of "${action.topicName}": ${parts.join('; ')}${drift}`;
    }
    case 'none':
      return `topic "${action.topicName}" is in sync`;
  }
}

/** The Ready condition for a reconcile outcome, merged into the previous conditions. */
export function conditionsFor(
  outcome: TopicOutcome,
  generation: number | undefined,
  now: Date,
  previous?: readonly Condition[],
): Condition[] {
  const base = { type: 'Ready', lastTransitionTime: now.toISOString(), observedGeneration: generation };
  let ready: Condition;
  switch (outcome.kind) {
    case 'actions':
      ready = {
        ...base,
        status: 'True',
        reason: 'Reconciled',
        message: outcome.actions.map(describeAction).join('; '),
      };
      break;
    case 'unmanaged':
      ready = { ...base, status: 'Unknown', reason: 'Unmanaged', message: outcome.message };
      break;
    case 'refused':
    case 'failed':
      ready = { ...base, status: 'False', reason: outcome.reason, message: outcome.message };
      break;
  }
  return upsertCondition(previous, ready);
}

/** True when the loop must not retry until the resource's generation changes. */
export function isTerminal(outcome: TopicOutcome): boolean {
  return outcome.kind === 'refused';
}

export interface TopicEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Kubernetes Events worth recording for a plan (the loop emits them after the actions succeed). */
export function eventsFor(plan: TopicPlan): TopicEvent[] {
  if (plan.kind === 'refused') return [{ type: 'Warning', reason: plan.reason, message: plan.message }];
  if (plan.kind !== 'actions') return [];
  const events: TopicEvent[] = [];
  for (const action of plan.actions) {
    if (action.kind === 'alterConfigs' && action.revertsDrift) {
      const what = action.drift
        .map(
          (d) =>
            `${d.key} (${d.observed === null ? 'unset' : `"${d.observed}"`} → ${d.desired === null ? 'unset' : `"${d.desired}"`})`,
        )
        .join(', ');
      events.push({
        type: 'Warning',
        reason: 'ConfigDriftReverted',
        message: `Reverted config of "${action.topicName}" changed outside the Topic: ${what}`,
      });
    } else if (action.kind !== 'none') {
      const reason = {
        create: 'Created',
        adopt: 'Adopted',
        createPartitions: 'PartitionsIncreased',
        alterConfigs: 'ConfigUpdated',
      }[action.kind];
      events.push({ type: 'Normal', reason, message: describeAction(action) });
    }
  }
  return events;
}

export type DeletionAction =
  { kind: 'addFinalizer' } | { kind: 'removeFinalizer' } | { kind: 'deleteTopic'; topicName: string };

export interface DeletionPlan {
  /** The resource is being deleted: run these actions and do not call planTopic. */
  deleting: boolean;
  actions: DeletionAction[];
  message: string;
}

/**
 * Finalizer bookkeeping and what deleting the resource does to the Kafka topic. The loop removes
 * the finalizer only after deleteTopic succeeded (an unknown topic counts as success).
 */
export function planTopicDeletion(
  resource: TopicResource,
  observed: ObservedTopic | undefined,
  opts: PlanTopicOptions = {},
): DeletionPlan {
  const meta = resource.metadata;
  const hasFinalizer = (meta.finalizers ?? []).includes(TOPIC_FINALIZER);
  const managed = isManaged(meta);
  const name = resolvedTopicName(resource);
  const deleting = meta.deletionTimestamp !== undefined;

  if (!deleting) {
    // The finalizer exists to delete the Kafka topic, so only a managed Topic with deletionPolicy
    // Delete holds one. A Retain Topic (the chart's) has nothing to clean up and must not outlive
    // the operator: `helm uninstall` removes both at once, and a finalizer left with no operator to
    // remove it kept such Topics Terminating and their namespace from being deleted.
    const policy = validateTopicSpec(resource.spec, meta.name);
    const wanted = managed && policy.ok && policy.value.deletionPolicy === 'Delete';
    if (wanted && !hasFinalizer) {
      return {
        deleting,
        actions: [{ kind: 'addFinalizer' }],
        message: `deletionPolicy Delete: adding finalizer ${TOPIC_FINALIZER}`,
      };
    }
    if (!wanted && hasFinalizer) {
      const why = !managed
        ? 'unmanaged'
        : policy.ok
          ? 'deletionPolicy Retain'
          : 'spec is invalid, so deletionPolicy is unknown';
      return {
        deleting,
        actions: [{ kind: 'removeFinalizer' }],
        message: `${why}: removing finalizer ${TOPIC_FINALIZER} so deleting the resource leaves Kafka topic "${name}" alone`,
      };
    }
    return {
      deleting,
      actions: [],
      message: wanted
        ? 'finalizer present'
        : `no finalizer: deleting the resource keeps Kafka topic "${name}"`,
    };
  }

  if (!hasFinalizer) return { deleting, actions: [], message: 'no finalizer: nothing to clean up' };
  const done = (message: string): DeletionPlan => ({
    deleting,
    actions: [{ kind: 'removeFinalizer' }],
    message,
  });
  if (!managed) return done(`unmanaged: keeping Kafka topic "${name}"`);
  const validated = validateTopicSpec(resource.spec, meta.name);
  if (!validated.ok)
    return done(`spec is invalid, so deletionPolicy is unknown: keeping Kafka topic "${name}"`);
  if (validated.value.deletionPolicy === 'Retain')
    return done(`deletionPolicy Retain: keeping Kafka topic "${name}"`);
  if (opts.claimedBy !== undefined && opts.claimedBy !== qualified(meta)) {
    return done(`Kafka topic "${name}" is managed by Topic ${opts.claimedBy}: not deleting it`);
  }
  if (!observed) return done(`deletionPolicy Delete: Kafka topic "${name}" does not exist`);
  return {
    deleting,
    actions: [{ kind: 'deleteTopic', topicName: name }, { kind: 'removeFinalizer' }],
    message: `deletionPolicy Delete: deleting Kafka topic "${name}"`,
  };
}
