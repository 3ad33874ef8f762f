import { isRecord, show, type Condition, type ObjectMeta, type Validated } from '../meta.ts';

export const TOPIC_KIND = 'Topic';
export const TOPIC_FINALIZER = 'parley.dev/topic-finalizer';

export type DeletionPolicy = 'Retain' | 'Delete';
export const DELETION_POLICIES: readonly DeletionPolicy[] = ['Retain', 'Delete'];

export type ConfigValue = string | number | boolean;

export interface TopicSpec {
  /** Kafka topic name. @default metadata.name */
  topicName?: string;
  partitions: number;
  replicationFactor: number;
  /** Topic-level configs (retention.ms, cleanup.policy, min.insync.replicas, …); compared as strings. */
  config?: Record<string, ConfigValue>;
  /** What deleting the resource does to the Kafka topic. @default Retain */
  deletionPolicy?: DeletionPolicy;
}

export interface TopicStatus {
  conditions?: Condition[];
  observedGeneration?: number;
  topicName?: string;
  topicId?: string;
  partitions?: number;
  replicationFactor?: number;
  /**
   * The config the operator last applied, as strings. It tells a key the user dropped from the spec
   * (remove it, quietly) from one someone changed in Kafka behind our back (revert it, with an Event).
   */
  appliedConfig?: Record<string, string>;
}

export interface Topic {
  apiVersion: 'parley.dev/v1alpha1';
  kind: 'Topic';
  metadata: ObjectMeta;
  spec: TopicSpec;
  status?: TopicStatus;
}

/** A validated spec with defaults applied and config values as strings. */
export interface ResolvedTopicSpec {
  topicName: string;
  partitions: number;
  replicationFactor: number;
  config: Record<string, string>;
  deletionPolicy: DeletionPolicy;
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export function isValidTopicName(name: string): boolean {
  return TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1;
}

/** Checks a Topic spec the way the CRD schema cannot (cross-field rules) and applies defaults. */
export function validateTopicSpec(spec: unknown, resourceName: string): Validated<ResolvedTopicSpec> {
  if (!isRecord(spec)) return { ok: false, errors: [`spec must be an object (got ${show(spec)})`] };
  const errors: string[] = [];

  let topicName = resourceName;
  if (spec.topicName !== undefined) {
    if (typeof spec.topicName !== 'string' || !isValidTopicName(spec.topicName)) {
      errors.push(
        `spec.topicName must be 1-249 characters of [a-zA-Z0-9._-] and not "." or ".." (got ${show(spec.topicName)})`,
      );
    } else topicName = spec.topicName;
  } else if (!isValidTopicName(resourceName)) {
    errors.push(`metadata.name ${show(resourceName)} is not a valid Kafka topic name: set spec.topicName`);
  }

  if (!isPositiveInt(spec.partitions)) {
    errors.push(`spec.partitions must be an integer >= 1 (got ${show(spec.partitions)})`);
  }
  if (!isPositiveInt(spec.replicationFactor)) {
    errors.push(`spec.replicationFactor must be an integer >= 1 (got ${show(spec.replicationFactor)})`);
  }

  const config: Record<string, string> = {};
  if (spec.config !== undefined) {
    if (!isRecord(spec.config)) {
      errors.push(`spec.config must be a map of string, number or boolean values (got ${show(spec.config)})`);
    } else {
      for (const [key, value] of Object.entries(spec.config)) {
        if (key.trim() === '') errors.push('spec.config has an empty key');
        else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
          config[key] = String(value);
        } else {
          errors.push(`spec.config[${show(key)}] must be a string, number or boolean (got ${show(value)})`);
        }
      }
    }
  }
  const minIsr = config['min.insync.replicas'];
  if (minIsr !== undefined && isPositiveInt(spec.replicationFactor)) {
    const n = Number(minIsr);
    if (!Number.isInteger(n) || n < 1) {
      errors.push(`spec.config["min.insync.replicas"] must be an integer >= 1 (got ${show(minIsr)})`);
    } else if (n > spec.replicationFactor) {
      // Kafka accepts it, and then every acks=all produce fails with NOT_ENOUGH_REPLICAS.
      errors.push(
        `spec.config["min.insync.replicas"] (${n}) must be <= spec.replicationFactor (${spec.replicationFactor})`,
      );
    }
  }

  let deletionPolicy: DeletionPolicy = 'Retain';
  if (spec.deletionPolicy !== undefined) {
    if (DELETION_POLICIES.includes(spec.deletionPolicy as DeletionPolicy)) {
      deletionPolicy = spec.deletionPolicy as DeletionPolicy;
    } else {
      errors.push(
        `spec.deletionPolicy must be one of ${DELETION_POLICIES.join(', ')} (got ${show(spec.deletionPolicy)})`,
      );
    }
  }

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      topicName,
      partitions: spec.partitions as number,
      replicationFactor: spec.replicationFactor as number,
      config,
      deletionPolicy,
    },
  };
}
