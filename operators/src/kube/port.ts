/**
 * What the operator needs from the Kubernetes API server, and nothing more. Controllers, the
 * leader elector and the operator import this interface only; `clientnode.ts` is the one adapter.
 */
import type { ObjectMeta } from '../meta.ts';

/** A custom resource collection (group, version, plural). */
export interface ResourceKind {
  group: string;
  version: string;
  plural: string;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ListResult<T> {
  items: T[];
  /** The collection's resourceVersion: a watch from here sees every later change. */
  resourceVersion: string;
}

export interface WatchHandle {
  stop(): void;
  /** Settles when the watch ends: null when the server closed it, an error otherwise (410 Gone: relist). */
  ended: Promise<Error | null>;
}

/** The parts of an apps/v1 Deployment the autoscaler reads. */
export interface DeploymentView {
  name: string;
  namespace: string;
  paused: boolean;
  replicas: number;
  readyReplicas: number;
}

/** autoscaling/v1 Scale of a Deployment. */
export interface ScaleView {
  replicas: number;
  resourceVersion: string;
}

/** coordination.k8s.io/v1 Lease, with times as epoch milliseconds. */
export interface LeaseRecord {
  namespace: string;
  name: string;
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: number;
  renewTime?: number;
  leaseTransitions?: number;
  /** Absent when creating. */
  resourceVersion?: string;
}

/** A core/v1 Event about one of our resources. */
export interface KubeEvent {
  involved: { kind: string; apiVersion: string; namespace: string; name: string; uid?: string };
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** The component that reports it (`parley-operator`). */
  source: string;
}

/** 409: the object changed since it was read (stale resourceVersion), or already exists on create. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

export interface KubePort {
  /** Every object of the kind in every namespace (or one namespace), with the list's resourceVersion. */
  list<T extends KubeObject>(kind: ResourceKind, namespace?: string): Promise<ListResult<T>>;
  /** Changes after `resourceVersion`, in order, until `stop()` or the server ends the watch. */
  watch<T extends KubeObject>(
    kind: ResourceKind,
    resourceVersion: string,
    onEvent: (type: WatchEventType, object: T) => void,
    namespace?: string,
  ): Promise<WatchHandle>;
  /** The object, or undefined when it does not exist. */
  get<T extends KubeObject>(kind: ResourceKind, namespace: string, name: string): Promise<T | undefined>;
  /** Merge-patches the status subresource. With resourceVersion, a stale write throws ConflictError. */
  patchStatus<T extends KubeObject>(
    kind: ResourceKind,
    namespace: string,
    name: string,
    status: object,
    resourceVersion?: string,
  ): Promise<T>;
  /** Replaces metadata.finalizers, guarded by resourceVersion (ConflictError when stale). */
  setFinalizers<T extends KubeObject>(
    kind: ResourceKind,
    namespace: string,
    name: string,
    finalizers: string[],
    resourceVersion: string,
  ): Promise<T>;
  getDeployment(namespace: string, name: string): Promise<DeploymentView | undefined>;
  getDeploymentScale(namespace: string, name: string): Promise<ScaleView | undefined>;
  /** Writes spec.replicas through the scale subresource (ConflictError when resourceVersion is stale). */
  updateDeploymentScale(
    namespace: string,
    name: string,
    replicas: number,
    resourceVersion: string,
  ): Promise<ScaleView>;
  createEvent(event: KubeEvent): Promise<void>;
  getLease(namespace: string, name: string): Promise<LeaseRecord | undefined>;
  /** ConflictError when it already exists. */
  createLease(lease: LeaseRecord): Promise<LeaseRecord>;
  /** ConflictError when lease.resourceVersion is stale. */
  updateLease(lease: LeaseRecord): Promise<LeaseRecord>;
}
