import { expect } from 'chai';
import { waitFor } from '@parley/common';
import { testDeployment, testServers, type TestObject, type TestServer } from '../testing/servers.ts';
import { TOPICS } from './kinds.ts';
import { ClientNodeKube } from './clientnode.ts';
import { ConflictError, type KubeObject, type WatchEventType } from './port.ts';

type Obj = TestObject;

for (const [label, start] of testServers('clientnode')) {
  /** The client-node adapter's REST contract, run against every server we have (on the real one, with the chart's operator RBAC). */
  describe(`ClientNodeKube against ${label}`, function () {
    this.timeout(30_000);
    let server: TestServer;
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
      await waitFor(() => expect(seen).to.have.length(3));
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
      await waitFor(async () => expect(await kube.get(TOPICS, ns, 'a')).to.equal(undefined));
    });

    it('reads a Deployment and writes its scale subresource, 409 when stale', async () => {
      await server.apply('deployments', testDeployment('w', 1));
      await waitFor(async () =>
        expect(await kube.getDeployment(ns, 'w')).to.deep.equal({
          name: 'w',
          namespace: ns,
          paused: false,
          replicas: 1,
          readyReplicas: server.readyReplicas(1),
        }),
      );
      expect(await kube.getDeployment(ns, 'missing')).to.equal(undefined);
      // The deployment controller writes status meanwhile (a new resourceVersion): a 409 then means
      // read again and retry, as the autoscaler does on its next reconcile.
      const scale = await waitFor(async () => {
        const read = (await kube.getDeploymentScale(ns, 'w'))!;
        const updated = await kube.updateDeploymentScale(ns, 'w', 3, read.resourceVersion);
        expect(updated.replicas).to.equal(3);
        return read;
      });
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
