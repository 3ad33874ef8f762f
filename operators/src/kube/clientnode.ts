/** The KubePort adapter over @kubernetes/client-node 1.x (Node 20). */
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  V1MicroTime,
  type V1Lease,
} from '@kubernetes/client-node';
import {
  ConflictError,
  type DeploymentView,
  type KubeEvent,
  type KubeObject,
  type KubePort,
  type LeaseRecord,
  type ListResult,
  type ResourceKind,
  type ScaleView,
  type WatchEventType,
  type WatchHandle,
} from './port.ts';

export interface KubeConnection {
  /** API server URL (http://127.0.0.1:PORT for the fake). Absent: in-cluster config or KUBECONFIG. */
  server?: string;
}

/** A KubeConfig for an explicit server (no credentials: the fake API server), or the default chain. */
export function kubeConfigFor(conn: KubeConnection): KubeConfig {
  const kc = new KubeConfig();
  if (conn.server === undefined) {
    kc.loadFromDefault();
    return kc;
  }
  kc.loadFromOptions({
    // client-node refuses plain http unless skipTLSVerify is set; there is no TLS to verify then.
    clusters: [{ name: 'target', server: conn.server, skipTLSVerify: conn.server.startsWith('http:') }],
    users: [{ name: 'operator' }],
    contexts: [{ name: 'target', cluster: 'target', user: 'operator' }],
    currentContext: 'target',
  });
  return kc;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function isStatus(code: number) {
  return (err: unknown) => err instanceof ApiException && err.code === code;
}
const notFound = isStatus(404);
const conflict = isStatus(409);

/** 404 → undefined; 409 → ConflictError; anything else unchanged. */
async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (conflict(err)) throw new ConflictError(`${what}: ${(err as Error).message.split('\n')[0]}`);
    throw err;
  }
}

async function orUndefined<T>(run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    if (notFound(err)) return undefined;
    throw err;
  }
}

function leaseFrom(l: V1Lease): LeaseRecord {
  const s = l.spec ?? {};
  return {
    namespace: l.metadata?.namespace ?? '',
    name: l.metadata?.name ?? '',
    holderIdentity: s.holderIdentity,
    leaseDurationSeconds: s.leaseDurationSeconds,
    acquireTime: s.acquireTime ? new Date(s.acquireTime).getTime() : undefined,
    renewTime: s.renewTime ? new Date(s.renewTime).getTime() : undefined,
    leaseTransitions: s.leaseTransitions,
    resourceVersion: l.metadata?.resourceVersion,
  };
}

function leaseTo(l: LeaseRecord): V1Lease {
  // Lease times are MicroTime: the API server refuses anything but six fractional digits
  // ("2006-01-02T15:04:05.000000Z07:00"), and a plain Date serializes three.
  const date = (ms: number | undefined) => (ms === undefined ? undefined : new V1MicroTime(ms));
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: l.name, namespace: l.namespace, resourceVersion: l.resourceVersion },
    spec: {
      holderIdentity: l.holderIdentity,
      leaseDurationSeconds: l.leaseDurationSeconds,
      acquireTime: date(l.acquireTime),
      renewTime: date(l.renewTime),
      leaseTransitions: l.leaseTransitions,
    },
  };
}

export class ClientNodeKube implements KubePort {
  private readonly custom: CustomObjectsApi;
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly watcher: Watch;

  constructor(kc: KubeConfig) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.watcher = new Watch(kc);
  }

  async list<T extends KubeObject>(kind: ResourceKind, namespace?: string): Promise<ListResult<T>> {
    const res = (
      namespace === undefined
        ? await this.custom.listClusterCustomObject({ ...kind })
        : await this.custom.listNamespacedCustomObject({ ...kind, namespace })
    ) as { items?: T[]; metadata?: { resourceVersion?: string } };
    return { items: res.items ?? [], resourceVersion: res.metadata?.resourceVersion ?? '' };
  }

  async watch<T extends KubeObject>(
    kind: ResourceKind,
    resourceVersion: string,
    onEvent: (type: WatchEventType, object: T) => void,
    namespace?: string,
  ): Promise<WatchHandle> {
    const ns = namespace === undefined ? '' : `/namespaces/${namespace}`;
    const path = `/apis/${kind.group}/${kind.version}${ns}/${kind.plural}`;
    let settle!: (err: Error | null) => void;
    const ended = new Promise<Error | null>((resolve) => (settle = resolve));
    let failure: Error | null = null;
    const controller = await this.watcher.watch(
      path,
      { resourceVersion, allowWatchBookmarks: true },
      (type, object: T & { code?: number; message?: string }) => {
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') onEvent(type, object);
        else if (type === 'ERROR') {
          failure = Object.assign(new Error(`watch ${path}: ${object.message ?? 'error'}`), {
            code: object.code,
          });
        }
      },
      (err: unknown) =>
        settle(failure ?? (err ? (err instanceof Error ? err : new Error(String(err))) : null)),
    );
    return { stop: () => controller.abort(), ended };
  }

  get<T extends KubeObject>(kind: ResourceKind, namespace: string, name: string): Promise<T | undefined> {
    return orUndefined(
      () => this.custom.getNamespacedCustomObject({ ...kind, namespace, name }) as Promise<T>,
    );
  }

  patchStatus<T extends KubeObject>(
    kind: ResourceKind,
    namespace: string,
    name: string,
    status: object,
    resourceVersion?: string,
  ): Promise<T> {
    const body = resourceVersion === undefined ? { status } : { metadata: { resourceVersion }, status };
    return call(
      `status of ${kind.plural}/${namespace}/${name}`,
      () =>
        this.custom.patchNamespacedCustomObjectStatus(
          { ...kind, namespace, name, body },
          mergePatch,
        ) as Promise<T>,
    );
  }

  setFinalizers<T extends KubeObject>(
    kind: ResourceKind,
    namespace: string,
    name: string,
    finalizers: string[],
    resourceVersion: string,
  ): Promise<T> {
    // A merge patch carrying resourceVersion is an optimistic lock (controller-runtime's
    // MergeFromWithOptimisticLock): the server answers 409 if the object changed since it was read.
    const body = { metadata: { resourceVersion, finalizers } };
    return call(
      `finalizers of ${kind.plural}/${namespace}/${name}`,
      () =>
        this.custom.patchNamespacedCustomObject({ ...kind, namespace, name, body }, mergePatch) as Promise<T>,
    );
  }

  async getDeployment(namespace: string, name: string): Promise<DeploymentView | undefined> {
    const d = await orUndefined(() => this.apps.readNamespacedDeployment({ namespace, name }));
    if (!d) return undefined;
    return {
      name,
      namespace,
      paused: d.spec?.paused === true,
      replicas: d.spec?.replicas ?? 1,
      readyReplicas: d.status?.readyReplicas ?? 0,
    };
  }

  async getDeploymentScale(namespace: string, name: string): Promise<ScaleView | undefined> {
    const s = await orUndefined(() => this.apps.readNamespacedDeploymentScale({ namespace, name }));
    if (!s) return undefined;
    return { replicas: s.spec?.replicas ?? 0, resourceVersion: s.metadata?.resourceVersion ?? '' };
  }

  async updateDeploymentScale(
    namespace: string,
    name: string,
    replicas: number,
    resourceVersion: string,
  ): Promise<ScaleView> {
    const s = await call(`scale of deployments/${namespace}/${name}`, () =>
      this.apps.replaceNamespacedDeploymentScale({
        namespace,
        name,
        body: {
          apiVersion: 'autoscaling/v1',
          kind: 'Scale',
          metadata: { name, namespace, resourceVersion },
          spec: { replicas },
        },
      }),
    );
    return { replicas: s.spec?.replicas ?? replicas, resourceVersion: s.metadata?.resourceVersion ?? '' };
  }

  async createEvent(e: KubeEvent): Promise<void> {
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace: e.involved.namespace,
      body: {
        metadata: { generateName: `${e.involved.name}.`, namespace: e.involved.namespace },
        involvedObject: { ...e.involved },
        type: e.type,
        reason: e.reason,
        message: e.message,
        source: { component: e.source },
        reportingComponent: e.source,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }

  async getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    const l = await orUndefined(() => this.coordination.readNamespacedLease({ namespace, name }));
    return l && leaseFrom(l);
  }

  async createLease(lease: LeaseRecord): Promise<LeaseRecord> {
    return leaseFrom(
      await call(`create lease ${lease.namespace}/${lease.name}`, () =>
        this.coordination.createNamespacedLease({ namespace: lease.namespace, body: leaseTo(lease) }),
      ),
    );
  }

  async updateLease(lease: LeaseRecord): Promise<LeaseRecord> {
    return leaseFrom(
      await call(`update lease ${lease.namespace}/${lease.name}`, () =>
        this.coordination.replaceNamespacedLease({
          namespace: lease.namespace,
          name: lease.name,
          body: leaseTo(lease),
        }),
      ),
    );
  }
}
