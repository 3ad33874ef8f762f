import { consumerAutoscalerCrd, operatorRbacRules, topicCrd } from '@parley/operators/crds';
import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import { ParleyApp, type Backends } from './parley-app.ts';

const API_VERSION = 'parley.dev/v1alpha1';

export interface OperatorProps {
  readonly backends: Backends;
  /** Name of the worker Deployment the ConsumerAutoscaler scales. */
  readonly workerDeployment: string;
}

/**
 * The operator: its CRDs (from operators/src/crds.ts, so the schema is the one the code was
 * written for), a Deployment with a least-privilege Role built from `operatorRbacRules`, the
 * Topic resources for Parley's topics and the worker's ConsumerAutoscaler.
 */
export class Operator extends Construct {
  constructor(scope: Construct, id: string, k: Knobs, props: OperatorProps) {
    super(scope, id);
    for (const crd of [topicCrd, consumerAutoscalerCrd]) {
      k.emit(this, crd.metadata.name, {
        ...(structuredClone(crd) as unknown as Record<string, unknown>),
        apiVersion: crd.apiVersion,
        kind: crd.kind,
        // The chart ships CRDs in crds/ (helm installs them before the Topics that need them,
        // never upgrades or deletes them, and a second release reuses them), where nothing is
        // templated: their labels name no release.
        metadata: {
          name: crd.metadata.name,
          labels: {
            ...crd.metadata.labels,
            'app.kubernetes.io/name': 'parley',
            'app.kubernetes.io/part-of': 'parley',
            'app.kubernetes.io/component': 'operator',
          },
          // Deleting a CRD deletes every Topic with it: nothing that uninstalls Parley may.
          annotations: { 'helm.sh/resource-policy': 'keep' },
        },
      });
    }
    const app = new ParleyApp(this, 'app', k, {
      component: 'operator',
      imagePath: 'operator.image',
      valuesPath: 'operator',
      backends: props.backends,
      apiAccess: true,
      stores: false,
      // No API: /healthz, /readyz, /metrics and /version on the management port, like the services.
      api: false,
      env: [
        { name: 'WATCH_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'LEASE_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'LEASE_NAME', value: k.name('operator') },
        { name: 'KAFKA_CLIENT_ID', value: 'parley-operator' },
      ],
    });
    const name = app.workload.name;
    k.emit(this, 'role', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: k.meta(name, 'operator'),
      rules: operatorRbacRules.map((r) => ({ ...r })),
    });
    k.emit(this, 'binding', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: k.meta(name, 'operator'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: app.workload.serviceAccountName, namespace: k.namespace }],
    });

    const retention = k.text('topics.retentionMs');
    const topics: [string, string, number][] = [
      ['chat-messages', 'chat.messages', k.v('topics.chatPartitions')],
      ['chat-events', 'chat.events', k.v('topics.chatPartitions')],
      ['chat-messages-dlq', 'chat.messages.dlq', k.v('topics.dlqPartitions')],
      ['chat-events-notify-dlq', 'chat.events.notify.dlq', k.v('topics.dlqPartitions')],
      ['user-events', 'user.events', k.v('topics.userEventsPartitions')],
    ];
    for (const [suffix, topicName, partitions] of topics) {
      k.emit(this, `topic-${suffix}`, {
        apiVersion: API_VERSION,
        kind: 'Topic',
        metadata: k.meta(k.name(suffix), 'operator'),
        spec: {
          topicName,
          partitions,
          replicationFactor: k.v('kafka.replicationFactor'),
          config: { 'retention.ms': retention, 'min.insync.replicas': k.text('kafka.minInsyncReplicas') },
        },
      });
    }
    k.when('message.worker.autoscaler.enabled', () => {
      k.emit(this, 'autoscaler', {
        apiVersion: API_VERSION,
        kind: 'ConsumerAutoscaler',
        metadata: k.meta(props.workerDeployment, 'operator'),
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: props.workerDeployment },
          consumerGroup: k.v<string>('message.worker.groupId'),
          topics: ['chat.messages'],
          lagThreshold: k.v('message.worker.autoscaler.lagThreshold'),
          minReplicas: k.v('message.worker.autoscaler.minReplicas'),
          maxReplicas: k.v('message.worker.autoscaler.maxReplicas'),
          policy: k.v<string>('message.worker.autoscaler.policy'),
          targetDrainSeconds: k.v('message.worker.autoscaler.targetDrainSeconds'),
        },
      });
    });
  }
}
