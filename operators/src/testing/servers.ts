/**
 * The API servers the operator's suites run against, behind one interface: the fake (fast, in
 * process) and the real control plane of scripts/kube (when KUBECONFIG and PARLEY_KUBE_BIN are set,
 * as scripts/test.sh sets them). On the real server each suite gets its own namespace, the chart's
 * operator ServiceAccount, Role and RoleBinding, and credentials of that ServiceAccount: the
 * operator runs with exactly the rights the chart grants it.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  AppsV1Api,
  CoordinationV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { kubeConfigFor } from '../kube/clientnode.ts';
import type { KubeObject } from '../kube/port.ts';
import { Cluster } from './cluster.ts';
import { FakeApiServer } from './fake-apiserver.ts';

type Json = Record<string, unknown>;
export type TestObject = KubeObject & Json & { spec?: Json; status?: Json };
export type Plural = 'topics' | 'consumerautoscalers' | 'deployments' | 'leases';

export interface TestServer {
  label: string;
  /** The operator's credentials (on the real server: the chart's operator ServiceAccount). */
  kc: KubeConfig;
  namespace: string;
  /** Creates the object, or merge-patches its spec and annotations (as `kubectl apply` would). */
  apply(plural: Exclude<Plural, 'leases'>, object: TestObject): Promise<TestObject>;
  get(plural: Plural, name: string): Promise<TestObject | undefined>;
  delete(plural: Exclude<Plural, 'leases'>, name: string): Promise<void>;
  events(): Promise<Json[]>;
  /** Replicas a Deployment reports ready: the fake acts as a kubelet; the real cluster has none. */
  readyReplicas(replicas: number): number;
  /** Ends every open watch from the server side, when the server can do that cheaply. */
  dropWatches?(): void;
  /** The real control plane, for what only it can do (restart, kubectl). */
  cluster?: Cluster;
  close(): Promise<void>;
}

export async function fakeServer(): Promise<TestServer> {
  const fake = await FakeApiServer.start();
  const namespace = 'parley';
  const at = (o: TestObject) => ({ ...o, metadata: { ...o.metadata, namespace } });
  return {
    label: 'the fake API server',
    kc: kubeConfigFor({ server: fake.url }),
    namespace,
    async apply(plural, o) {
      const current = fake.get(plural, namespace, o.metadata.name);
      if (!current) return fake.apply(plural, at(o)) as TestObject;
      const meta = { ...current.metadata, annotations: { ...(current.metadata.annotations as Json) } };
      Object.assign(meta.annotations, o.metadata.annotations);
      return fake.apply(plural, {
        ...current,
        metadata: meta,
        spec: { ...current.spec, ...o.spec },
      }) as TestObject;
    },
    get: async (plural, name) => fake.get(plural, namespace, name) as TestObject | undefined,
    delete: async (plural, name) => fake.delete(plural, namespace, name),
    events: async () => fake.list('events', namespace),
    readyReplicas: (n) => n,
    dropWatches: () => fake.dropWatches(),
    close: () => fake.close(),
  };
}

const CHART = fileURLToPath(new URL('../../../charts/parley', import.meta.url));
const GROUP = { group: 'parley.dev', version: 'v1alpha1' };
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The chart's operator ServiceAccount, Role and RoleBinding, rendered for a namespace. */
function operatorRbac(namespace: string): string {
  const only = ['serviceaccount', 'role', 'rolebinding'].flatMap((f) => [
    '--show-only',
    `templates/operator/${f}.yaml`,
  ]);
  // --validate: render for the running cluster (its version, its APIs), as helm install would.
  return execFileSync(
    'helm',
    ['template', 'parley', CHART, '--validate', '--namespace', namespace, ...only],
    {
      encoding: 'utf8',
    },
  );
}

export async function realServer(prefix = 'operator'): Promise<TestServer> {
  const cluster = new Cluster();
  await cluster.applyParleyCrds();
  const namespace = await cluster.namespace(prefix);
  await cluster.check(['apply', '-n', namespace, '-f', '-'], operatorRbac(namespace));
  const admin = {
    custom: cluster.kc.makeApiClient(CustomObjectsApi),
    apps: cluster.kc.makeApiClient(AppsV1Api),
    coordination: cluster.kc.makeApiClient(CoordinationV1Api),
  };
  const custom = (plural: string) => ({ ...GROUP, plural, namespace });
  const read = async (plural: Plural, name: string): Promise<TestObject> => {
    if (plural === 'deployments')
      return (await admin.apps.readNamespacedDeployment({ namespace, name })) as unknown as TestObject;
    if (plural === 'leases')
      return (await admin.coordination.readNamespacedLease({ namespace, name })) as unknown as TestObject;
    return (await admin.custom.getNamespacedCustomObject({ ...custom(plural), name })) as TestObject;
  };
  return {
    label: 'the real API server (scripts/kube)',
    kc: await cluster.as(namespace, 'parley-operator'),
    namespace,
    cluster,
    async apply(plural, o) {
      const body = { ...o, metadata: { ...o.metadata, namespace } };
      const exists = await read(plural, o.metadata.name).then(
        () => true,
        () => false,
      );
      if (plural === 'deployments') {
        if (!exists)
          return (await admin.apps.createNamespacedDeployment({
            namespace,
            body: body as never,
          })) as unknown as TestObject;
        return (await admin.apps.patchNamespacedDeployment(
          { namespace, name: o.metadata.name, body: { spec: o.spec } },
          mergePatch,
        )) as unknown as TestObject;
      }
      if (!exists)
        return (await admin.custom.createNamespacedCustomObject({ ...custom(plural), body })) as TestObject;
      const patch = { metadata: { annotations: o.metadata.annotations }, spec: o.spec };
      return (await admin.custom.patchNamespacedCustomObject(
        { ...custom(plural), name: o.metadata.name, body: patch },
        mergePatch,
      )) as TestObject;
    },
    get: (plural, name) => read(plural, name).catch(() => undefined),
    async delete(plural, name) {
      if (plural === 'deployments') await admin.apps.deleteNamespacedDeployment({ namespace, name });
      else await admin.custom.deleteNamespacedCustomObject({ ...custom(plural), name });
    },
    events: async () => (await cluster.core.listNamespacedEvent({ namespace })).items as unknown as Json[],
    readyReplicas: () => 0,
    close: () => cluster.deleteNamespace(namespace),
  };
}

/** Every server this run can reach: the fake always, the real control plane when it is up. */
export function testServers(prefix?: string): [string, () => Promise<TestServer>][] {
  const servers: [string, () => Promise<TestServer>][] = [['the fake API server', fakeServer]];
  if (process.env.KUBECONFIG && process.env.PARLEY_KUBE_BIN)
    servers.push(['the real API server (scripts/kube)', () => realServer(prefix)]);
  return servers;
}

/** A minimal valid apps/v1 Deployment (both servers admit it; only the fake makes it ready). */
export function testDeployment(name: string, replicas: number): TestObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'worker', image: 'parley/message:test' }] },
      },
    },
  };
}
