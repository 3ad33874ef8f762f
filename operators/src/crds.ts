/**
 * The operator's CustomResourceDefinitions and RBAC rules as plain apiextensions.k8s.io/v1 and
 * rbac.authorization.k8s.io/v1 objects. The chart (cdk8s) imports these, so the schema the API
 * server enforces and the permissions the operator gets are the ones this code was written for.
 *
 * The schemas reject what one field can say is wrong (partitions < 1, unknown enum values,
 * minReplicas > maxReplicas through CEL); `validateTopicSpec` / `validateAutoscalerSpec` still run
 * in the loop and report anything else (min.insync.replicas vs replicationFactor, topic names) as a
 * Ready=False InvalidSpec condition, and catch objects stored before a schema change.
 */
import { GROUP, VERSION } from './meta.ts';
import { AUTOSCALER_DEFAULTS, CONSUMER_AUTOSCALER_KIND } from './autoscale/types.ts';
import { DELETION_POLICIES, TOPIC_KIND } from './topic/types.ts';

/**
 * The wire (JSON/YAML) shapes, not client-node's model classes, whose fields are renamed
 * (`_enum`, `xKubernetesValidations`) for its serializer.
 */
export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  description?: string;
  required?: string[];
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps | boolean;
  items?: JSONSchemaProps;
  enum?: (string | number)[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  /** Filled in by the API server when the field is absent (structural defaulting). */
  default?: string | number | boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  priority?: number;
  description?: string;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    scope: 'Namespaced' | 'Cluster';
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames?: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: Record<string, never> };
      schema: { openAPIV3Schema: JSONSchemaProps };
      additionalPrinterColumns?: PrinterColumn[];
    }[];
  };
}

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export const TOPIC_PLURAL = 'topics';
export const CONSUMER_AUTOSCALER_PLURAL = 'consumerautoscalers';

const READY_JSONPATH = '.status.conditions[?(@.type=="Ready")].status';
const KAFKA_TOPIC_NAME = '^[a-zA-Z0-9._-]{1,249}$';

const conditions: JSONSchemaProps = {
  type: 'array',
  description: 'metav1.Condition list; Ready carries the outcome of the last reconcile.',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
  items: {
    type: 'object',
    required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
    properties: {
      type: { type: 'string', maxLength: 316 },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
      reason: { type: 'string', maxLength: 1024 },
      message: { type: 'string', maxLength: 32768 },
      lastTransitionTime: { type: 'string', format: 'date-time' },
      observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
    },
  },
};

const int = (description: string, minimum: number, extra: JSONSchemaProps = {}): JSONSchemaProps => ({
  type: 'integer',
  format: 'int32',
  minimum,
  description,
  ...extra,
});

/** An object schema with spec and status; every status carries conditions and observedGeneration. */
function resourceSchema(spec: JSONSchemaProps, status: Record<string, JSONSchemaProps>): JSONSchemaProps {
  return {
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec,
      status: {
        type: 'object',
        properties: { conditions, observedGeneration: { type: 'integer', format: 'int64' }, ...status },
      },
    },
  };
}

const topicSchema = resourceSchema(
  {
    type: 'object',
    required: ['partitions', 'replicationFactor'],
    'x-kubernetes-validations': [
      {
        rule: 'has(self.topicName) == has(oldSelf.topicName)',
        message: 'spec.topicName cannot be added or removed after creation',
      },
      {
        // Kafka cannot remove partitions. (A spec below what Kafka already has, such as an adopted
        // topic, is still refused by the operator with Ready=False NotSupported.)
        rule: 'self.partitions >= oldSelf.partitions',
        message: 'spec.partitions cannot decrease: Kafka cannot remove partitions',
      },
    ],
    properties: {
      topicName: {
        type: 'string',
        description: 'Kafka topic name; defaults to metadata.name. Immutable.',
        pattern: KAFKA_TOPIC_NAME,
        'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'spec.topicName is immutable' }],
      },
      partitions: int('Partition count. Can grow; a decrease is refused (Ready=False NotSupported).', 1),
      replicationFactor: int(
        'Replicas per partition. A change is refused (Ready=False NotSupported): reassign partitions instead.',
        1,
        { maximum: 32767 },
      ),
      config: {
        type: 'object',
        description:
          'Topic-level configs (retention.ms, cleanup.policy, min.insync.replicas, …): string, number or boolean values, compared as strings.',
        additionalProperties: { 'x-kubernetes-preserve-unknown-fields': true },
      },
      deletionPolicy: {
        type: 'string',
        enum: [...DELETION_POLICIES],
        default: 'Retain',
        description:
          'What deleting the resource does to the Kafka topic. Retain (default) keeps it. Delete deletes it, and the operator holds a finalizer on the resource until it has: delete such a Topic while the operator runs.',
      },
    },
  },
  {
    topicName: { type: 'string' },
    topicId: { type: 'string' },
    partitions: { type: 'integer', format: 'int32' },
    replicationFactor: { type: 'integer', format: 'int32' },
    appliedConfig: { type: 'object', additionalProperties: { type: 'string' } },
  },
);

const seconds = (description: string, maximum?: number): JSONSchemaProps =>
  int(description, 0, maximum === undefined ? {} : { maximum });

const autoscalerSchema = resourceSchema(
  {
    type: 'object',
    required: ['scaleTargetRef', 'consumerGroup', 'topics', 'lagThreshold', 'maxReplicas'],
    'x-kubernetes-validations': [
      {
        rule: `(has(self.minReplicas) ? self.minReplicas : ${AUTOSCALER_DEFAULTS.minReplicas}) <= self.maxReplicas`,
        message: 'spec.minReplicas must be <= spec.maxReplicas',
      },
    ],
    properties: {
      scaleTargetRef: {
        type: 'object',
        required: ['name'],
        description: 'The Deployment to scale, in the resource namespace, through its scale subresource.',
        properties: {
          apiVersion: { type: 'string', enum: ['apps/v1'] },
          kind: { type: 'string', enum: ['Deployment'] },
          name: { type: 'string', minLength: 1 },
        },
      },
      consumerGroup: {
        type: 'string',
        minLength: 1,
        description: 'Kafka consumer group whose lag is measured.',
      },
      topics: {
        type: 'array',
        minItems: 1,
        items: { type: 'string', pattern: KAFKA_TOPIC_NAME },
        'x-kubernetes-list-type': 'set',
        description: 'Topics the group consumes.',
      },
      lagThreshold: {
        type: 'number',
        exclusiveMinimum: true,
        minimum: 0,
        description: 'Acceptable lag per replica (KEDA lagThreshold).',
      },
      activationLagThreshold: {
        type: 'number',
        minimum: 0,
        description:
          'At or below this total lag the consumer is idle (matters with minReplicas 0). Default 0.',
      },
      minReplicas: int('0 opts in to scale to zero. Default 1.', 0),
      maxReplicas: int('Upper bound; also capped by the partition count.', 1),
      pollingIntervalSeconds: int('Seconds between lag observations. Default 15.', 1),
      scaleUpStabilizationSeconds: seconds(
        'Scale-up takes the smallest recommendation of this window. Default 0.',
        3600,
      ),
      scaleDownStabilizationSeconds: seconds(
        'Scale-down takes the largest recommendation of this window. Default 300.',
        3600,
      ),
      cooldownSeconds: seconds('No scale-down sooner than this after the last scale. Default 0.'),
      offsetResetPolicy: {
        type: 'string',
        enum: ['latest', 'earliest'],
        description:
          'How a consumer without a committed offset starts; earliest counts the whole log. Default latest.',
      },
      policy: {
        type: 'string',
        enum: ['DrainTime', 'Lag'],
        description: 'DrainTime (rate-aware, default) or Lag (KEDA lag / lagThreshold).',
      },
      targetDrainSeconds: {
        type: 'number',
        exclusiveMinimum: true,
        minimum: 0,
        description: 'DrainTime: drain the backlog within this many seconds. Default 60.',
      },
    },
  },
  {
    totalLag: { type: 'integer', format: 'int64' },
    lagByTopic: { type: 'object', additionalProperties: { type: 'integer', format: 'int64' } },
    stuckPartitions: { type: 'array', items: { type: 'string' } },
    desiredReplicas: { type: 'integer', format: 'int32' },
    currentReplicas: { type: 'integer', format: 'int32' },
    lastScaleTime: { type: 'string', format: 'date-time' },
  },
);

// Every optional field shows its effective value in `kubectl get -o yaml`: the API server fills in
// the same defaults the operator applies (AUTOSCALER_DEFAULTS).
for (const [field, value] of Object.entries(AUTOSCALER_DEFAULTS))
  autoscalerSchema.properties!.spec!.properties![field]!.default = value;

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
const ready: PrinterColumn = { name: 'Ready', type: 'string', jsonPath: READY_JSONPATH };
const reason: PrinterColumn = {
  name: 'Reason',
  type: 'string',
  priority: 1,
  jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
};

/** A namespaced v1alpha1 CRD with a status subresource and the shared Ready/Reason/Age columns. */
function crd(
  kind: string,
  plural: string,
  shortNames: string[],
  schema: JSONSchemaProps,
  columns: PrinterColumn[],
): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: schema },
          additionalPrinterColumns: [...columns, ready, reason, age],
        },
      ],
    },
  };
}

/** `Topic` (plural `topics`, short name `kt`): a Kafka topic as a resource. */
export const topicCrd = crd(TOPIC_KIND, TOPIC_PLURAL, ['kt'], topicSchema, [
  { name: 'Topic', type: 'string', jsonPath: '.status.topicName' },
  { name: 'Partitions', type: 'integer', jsonPath: '.status.partitions' },
  { name: 'Replicas', type: 'integer', jsonPath: '.status.replicationFactor' },
]);

/** `ConsumerAutoscaler` (plural `consumerautoscalers`, short name `cas`): scale a Deployment on lag. */
export const consumerAutoscalerCrd = crd(
  CONSUMER_AUTOSCALER_KIND,
  CONSUMER_AUTOSCALER_PLURAL,
  ['cas'],
  autoscalerSchema,
  [
    { name: 'Target', type: 'string', jsonPath: '.spec.scaleTargetRef.name' },
    { name: 'Min', type: 'integer', jsonPath: '.spec.minReplicas' },
    { name: 'Max', type: 'integer', jsonPath: '.spec.maxReplicas' },
    { name: 'Current', type: 'integer', jsonPath: '.status.currentReplicas' },
    { name: 'Desired', type: 'integer', jsonPath: '.status.desiredReplicas' },
    { name: 'Lag', type: 'integer', jsonPath: '.status.totalLag' },
  ],
);

export const crds: readonly CustomResourceDefinition[] = [topicCrd, consumerAutoscalerCrd];

/**
 * Least-privilege rules for the operator's ClusterRole, exactly what the code calls. Finalizers are
 * added and removed with a patch on the resource itself; `*\/finalizers` update is what clusters with
 * OwnerReferencesPermissionEnforcement ask for. Leases are used only in the operator's own namespace;
 * the chart may move that rule to a namespaced Role.
 */
export const operatorRbacRules: readonly PolicyRule[] = [
  {
    apiGroups: [GROUP],
    resources: [TOPIC_PLURAL, CONSUMER_AUTOSCALER_PLURAL],
    verbs: ['get', 'list', 'watch', 'patch', 'update'],
  },
  {
    apiGroups: [GROUP],
    resources: [`${TOPIC_PLURAL}/status`, `${CONSUMER_AUTOSCALER_PLURAL}/status`],
    verbs: ['get', 'patch', 'update'],
  },
  {
    apiGroups: [GROUP],
    resources: [`${TOPIC_PLURAL}/finalizers`, `${CONSUMER_AUTOSCALER_PLURAL}/finalizers`],
    verbs: ['update'],
  },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'update', 'patch'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];
