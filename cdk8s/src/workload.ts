import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import { podSecurity, spread, type Json } from './pod.ts';

export interface ServicePort {
  readonly name: string;
  readonly port: number;
}

export interface WorkloadProps {
  /** Component name: the `app.kubernetes.io/component` label and the name suffix. */
  readonly component: string;
  /** @default 'Deployment' */
  readonly kind?: 'Deployment' | 'StatefulSet';
  /** Replicas (a knob). */
  readonly replicas: number;
  /** uid (and gid) the pod runs as. */
  readonly uid: number;
  /** The pod's containers, complete. */
  readonly containers: readonly Json[];
  /** @default [] */
  readonly initContainers?: readonly Json[];
  /** @default [] */
  readonly volumes?: readonly Json[];
  /** StatefulSet volumeClaimTemplates. @default [] */
  readonly volumeClaims?: readonly Json[];
  /** Ports of the Service(s). @default [] (no Service) */
  readonly ports?: readonly ServicePort[];
  /** A headless Service for stable pod DNS names (StatefulSets). @default false */
  readonly headless?: boolean;
  /** A ClusterIP Service. @default true when ports are given */
  readonly clusterService?: boolean;
  /** Pod annotations. @default {} */
  readonly podAnnotations?: Record<string, string>;
  /** Values path holding nodeSelector and tolerations. @default none */
  readonly placementPath?: string;
  /** Spread pods over this node label (a knob). @default 'kubernetes.io/hostname' */
  readonly topologyKey?: string;
  /** PodDisruptionBudget maxUnavailable; 0 = no PDB. @default 1 */
  readonly maxUnavailable?: number;
  /** @default 30 */
  readonly terminationGracePeriodSeconds?: number;
  /** Deployment: stop the old pod before starting the new one (a ReadWriteOnce volume). @default false */
  readonly recreate?: boolean;
  /** Mount the ServiceAccount token (only pods that call the API server). @default false */
  readonly apiAccess?: boolean;
}

/**
 * A Deployment or StatefulSet with its own ServiceAccount, Service(s) and PodDisruptionBudget,
 * restricted pod security and the common labels.
 */
export class Workload extends Construct {
  readonly name: string;
  readonly serviceAccountName: string;
  readonly headlessName: string;

  constructor(scope: Construct, id: string, k: Knobs, props: WorkloadProps) {
    super(scope, id);
    const { component } = props;
    if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(component)) {
      throw new Error(`'component' (${component}) must be a lowercase DNS label`);
    }
    if (props.containers.length === 0) throw new Error(`'containers' of ${component} must not be empty`);
    const ports = props.ports ?? [];
    const names = ports.map((p) => p.name);
    if (new Set(names).size !== names.length)
      throw new Error(`'ports' of ${component} (${names.join(', ')}) repeat a name`);
    const maxUnavailable = props.maxUnavailable ?? 1;
    if (maxUnavailable < 0)
      throw new Error(`'maxUnavailable' (${maxUnavailable}) must be 0 (no PDB) or more`);
    const kind = props.kind ?? 'Deployment';
    if (kind === 'Deployment' && props.volumeClaims?.length) {
      throw new Error(`'volumeClaims' of ${component} need kind 'StatefulSet' (got '${kind}')`);
    }

    this.name = k.name(component);
    this.serviceAccountName = this.name;
    this.headlessName = k.name(`${component}-headless`);
    const selector = k.selector(component);

    k.emit(this, 'sa', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: k.meta(this.serviceAccountName, component),
      automountServiceAccountToken: props.apiAccess ?? false,
    });

    const placement = props.placementPath
      ? {
          nodeSelector: k.block(`${props.placementPath}.nodeSelector`),
          tolerations: k.block(`${props.placementPath}.tolerations`),
        }
      : {};
    const podSpec: Json = {
      serviceAccountName: this.serviceAccountName,
      automountServiceAccountToken: props.apiAccess ?? false,
      securityContext: podSecurity(props.uid),
      terminationGracePeriodSeconds: props.terminationGracePeriodSeconds ?? 30,
      imagePullSecrets: k.block('imagePullSecrets'),
      ...placement,
      ...spread(k, component, props.topologyKey ?? 'kubernetes.io/hostname'),
      ...(props.initContainers?.length ? { initContainers: props.initContainers } : {}),
      containers: props.containers,
      ...(props.volumes?.length ? { volumes: props.volumes } : {}),
    };
    const template = {
      metadata: {
        labels: k.labels(component),
        ...(props.podAnnotations && Object.keys(props.podAnnotations).length
          ? { annotations: props.podAnnotations }
          : {}),
      },
      spec: podSpec,
    };

    const spec: Json =
      kind === 'Deployment'
        ? {
            replicas: props.replicas,
            revisionHistoryLimit: 5,
            selector: { matchLabels: selector },
            strategy: props.recreate
              ? { type: 'Recreate' }
              : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            template,
          }
        : {
            replicas: props.replicas,
            serviceName: this.headlessName,
            podManagementPolicy: 'Parallel',
            updateStrategy: { type: 'RollingUpdate' },
            selector: { matchLabels: selector },
            template,
            ...(props.volumeClaims?.length ? { volumeClaimTemplates: props.volumeClaims } : {}),
          };
    k.emit(this, 'workload', { apiVersion: 'apps/v1', kind, metadata: k.meta(this.name, component), spec });

    const servicePorts = ports.map((p) => ({
      name: p.name,
      port: p.port,
      targetPort: p.port,
      protocol: 'TCP',
    }));
    if (ports.length > 0 && (props.clusterService ?? true)) {
      k.emit(this, 'svc', {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: k.meta(this.name, component),
        spec: { type: 'ClusterIP', selector, ports: servicePorts },
      });
    }
    if (ports.length > 0 && props.headless) {
      k.emit(this, 'headless', {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: k.meta(this.headlessName, component),
        spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector, ports: servicePorts },
      });
    }
    if (maxUnavailable > 0) {
      k.emit(this, 'pdb', {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: k.meta(this.name, component),
        spec: { maxUnavailable, selector: { matchLabels: selector } },
      });
    }
  }
}
