import { expect } from 'chai';
import { AppsV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { FakeApiServer } from '../testing/fake-apiserver.ts';
import { Cluster } from '../testing/cluster.ts';
import { eventually } from '../testing/eventually.ts';
import { TOPICS } from './kinds.ts';
import { ClientNodeKube, kubeConfigFor } from './clientnode.ts';
import { ConflictError, type KubeObject, type WatchEventType } from './port.ts';

type Json = Record<string, unknown>;
type Obj = KubeObject & Json;

/** What the contract needs from a server besides the adapter under test. */
interface Server {
  kc: KubeConfig;
  namespace: string;
  /** Creates or replaces an object behind the adapter's back (as a user would). */
  apply(plural: 'topics' | 'deployments', object: Obj): Promise<Obj>;
  get(plural: 'topics' | 'deployments', name: string): Promise<Obj | undefined>;
  delete(plural: 'topics', name: string): Promise<void>;
  events(): Promise<Json[]>;
  /** The replicas a Deployment reports ready: the fake acts as a kubelet, the real server has none. */
  readyReplicas(replicas: number): number;
  /** Ends every open watch from the server's side, when the server can do that cheaply. */
  dropWatches?(): void;
  close(): Promise<void>;
}

async function fakeServer(): Promise<Server> {
  const fake = await FakeApiServer.start();
  const namespace = 'parley';
  return {
    kc: kubeConfigFor({ server: fake.url }),
    namespace,
    apply: async (plural, o) => fake.apply(plural, { ...o, metadata: { ...o.metadata, namespace } }) as Obj,
    get: async (plural, name) => fake.get(plural, namespace, name) as Obj | undefined,
    delete: async (plural, name) => fake.delete(plural, namespace, name),
    events: async () => fake.list('events', namespace),
    readyReplicas: (n) => n,
    dropWatches: () => fake.dropWatches(),
    close: () => fake.close(),
  };
}

async function realServer(): Promise<Server> {
  const cluster = new Cluster();
  await cluster.applyParleyCrds();
  const namespace = await cluster.namespace('clientnode');
  const custom = cluster.kc.makeApiClient(CustomObjectsApi);
  const apps = cluster.kc.makeApiClient(AppsV1Api);
  const topic = { group: 'parley.dev', version: 'v1alpha1', plural: 'topics', namespace };
  return {
    kc: cluster.kc,
    namespace,
    async apply(plural, o) {
      const body = { ...o, metadata: { ...o.metadata, namespace } };
      if (plural === 'deployments')
        return (await apps.createNamespacedDeployment({ namespace, body: body as never })) as unknown as Obj;
      const current = (await custom
        .getNamespacedCustomObject({ ...topic, name: o.metadata.name })
        .catch(() => undefined)) as Obj | undefined;
      if (!current) return (await custom.createNamespacedCustomObject({ ...topic, body })) as Obj;
      return (await custom.replaceNamespacedCustomObject({
        ...topic,
        name: o.metadata.name,
        body: { ...body, metadata: { ...body.metadata, resourceVersion: current.metadata.resourceVersion } },
      })) as Obj;
    },
    get: (plural, name) =>
      cluster.get<Obj>([plural === 'topics' ? 'topics.parley.dev' : plural, '-n', namespace, name]),
    async delete(_plural, name) {
      await custom.deleteNamespacedCustomObject({ ...topic, name });
    },
    events: async () => (await cluster.core.listNamespacedEvent({ namespace })).items as unknown as Json[],
    readyReplicas: () => 0,
    close: () => cluster.deleteNamespace(namespace),
  };
}

const servers: [string, () => Promise<Server>][] = [['the fake API server', fakeServer]];
if (process.env.KUBECONFIG && process.env.PARLEY_KUBE_BIN)
  servers.push(['the real API server (scripts/kube)', realServer]);

for (const [label, start] of servers) {
  /** The client-node adapter's REST contract, run against every server we have. */
  describe(`ClientNodeKube against ${label}`, function () {
    this.timeout(30_000);
    let server: Server;
    let kube: ClientNodeKube;
    let ns: string;
    beforeEach(async () => {
      server = await start();
      kube = new ClientNodeKube(server.kc);
      ns = server.namespace;
    });
    afterEach(() => server.close());

    const topic = (name: string, partitions: number): Obj => ({
      apiVersion: 'parley.dev/v1alpha1',
      kind: 'Topic',
      metadata: { name },
      spec: { partitions, replicationFactor: 1 },
    });
    const deployment = (name: string, replicas: number): Obj => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'c', image: 'parley/message:test' }] },
        },
      },
    });

    it('lists with a resourceVersion and watches every later change in order', async () => {
      await server.apply('topics', topic('a', 1));
      const listed = await kube.list(TOPICS, ns);
      expect(listed.items.map((t) => t.metadata.name)).to.deep.equal(['a']);
      const seen: string[] = [];
      const handle = await kube.watch(
        TOPICS,
        listed.resourceVersion,
        (type: WatchEventType, o: KubeObject) =>
          seen.push(`${type} ${o.metadata.name} gen=${o.metadata.generation}`),
        ns,
      );
      await server.apply('topics', topic('b', 1));
      await server.apply('topics', topic('a', 2));
      await server.delete('topics', 'b');
      await eventually(() => expect(seen).to.have.length(3));
      expect(seen).to.deep.equal(['ADDED b gen=1', 'MODIFIED a gen=2', 'DELETED b gen=1']);
      handle.stop();
    });

    it('reports the end of a watch the server closed', async function () {
      if (!server.dropWatches) this.skip(); // the real server's side: the operator suite restarts it
      const handle = await kube.watch(TOPICS, (await kube.list(TOPICS, ns)).resourceVersion, () => {}, ns);
      server.dropWatches!();
      expect(await handle.ended).to.equal(null);
    });

    it('patches status without touching spec or generation, and refuses a stale resourceVersion with 409', async () => {
      const created = await server.apply('topics', topic('a', 3));
      const rv = created.metadata.resourceVersion!;
      const after = await kube.patchStatus<KubeObject & { status: { partitions: number } }>(
        TOPICS,
        ns,
        'a',
        { partitions: 3 },
        rv,
      );
      expect(after.status.partitions).to.equal(3);
      expect(after.metadata.generation).to.equal(1);
      let err: unknown;
      await kube.patchStatus(TOPICS, ns, 'a', { partitions: 4 }, rv).catch((e) => (err = e));
      expect(err).to.be.instanceOf(ConflictError);
      expect((await server.get('topics', 'a'))!.status).to.deep.equal({ partitions: 3 });
    });

    it('finalizers hold a deletion until removed', async () => {
      const created = await server.apply('topics', topic('a', 1));
      await kube.setFinalizers(
        TOPICS,
        ns,
        'a',
        ['parley.dev/topic-finalizer'],
        created.metadata.resourceVersion!,
      );
      await server.delete('topics', 'a');
      const deleting = (await kube.get(TOPICS, ns, 'a'))!;
      expect(deleting.metadata.deletionTimestamp).to.be.a('string');
      await kube.setFinalizers(TOPICS, ns, 'a', [], deleting.metadata.resourceVersion!);
      await eventually(async () => expect(await kube.get(TOPICS, ns, 'a')).to.equal(undefined));
    });

    it('reads a Deployment and writes its scale subresource, 409 when stale', async () => {
      await server.apply('deployments', deployment('w', 1));
      await eventually(async () =>
        expect(await kube.getDeployment(ns, 'w')).to.deep.equal({
          name: 'w',
          namespace: ns,
          paused: false,
          replicas: 1,
          readyReplicas: server.readyReplicas(1),
        }),
      );
      expect(await kube.getDeployment(ns, 'missing')).to.equal(undefined);
      const scale = (await kube.getDeploymentScale(ns, 'w'))!;
      const updated = await kube.updateDeploymentScale(ns, 'w', 3, scale.resourceVersion);
      expect(updated.replicas).to.equal(3);
      expect((await server.get('deployments', 'w'))!.spec).to.deep.include({ replicas: 3 });
      let err: unknown;
      await kube.updateDeploymentScale(ns, 'w', 4, scale.resourceVersion).catch((e) => (err = e));
      expect(err).to.be.instanceOf(ConflictError);
    });

    it('creates, reads and updates a Lease with optimistic concurrency (MicroTime: six fractional digits)', async () => {
      const lease = {
        namespace: ns,
        name: 'op',
        holderIdentity: 'a',
        leaseDurationSeconds: 5,
        acquireTime: 1_700_000_000_123,
        renewTime: 1_700_000_000_123,
        leaseTransitions: 0,
      };
      const created = await kube.createLease(lease);
      expect(created).to.include({ holderIdentity: 'a', renewTime: 1_700_000_000_123 });
      let err: unknown;
      await kube.createLease(lease).catch((e) => (err = e));
      expect(err).to.be.instanceOf(ConflictError);
      const updated = await kube.updateLease({
        ...created,
        holderIdentity: 'b',
        renewTime: 1_700_000_001_456,
      });
      expect(await kube.getLease(ns, 'op')).to.include({ holderIdentity: 'b', renewTime: 1_700_000_001_456 });
      err = undefined;
      await kube.updateLease({ ...created, holderIdentity: 'c' }).catch((e) => (err = e));
      expect(err).to.be.instanceOf(ConflictError);
      expect(updated.resourceVersion).to.not.equal(created.resourceVersion);
    });

    it('creates Events about a resource', async () => {
      await kube.createEvent({
        involved: { kind: 'Topic', apiVersion: 'parley.dev/v1alpha1', namespace: ns, name: 'a' },
        type: 'Warning',
        reason: 'NotSupported',
        message: 'nope',
        source: 'parley-operator',
      });
      const [e] = await server.events();
      expect(e).to.deep.include({ reason: 'NotSupported', type: 'Warning', message: 'nope' });
    });
  });
}
