import { expect } from 'chai';
import { FakeApiServer } from '../testing/fake-apiserver.ts';
import { eventually } from '../testing/eventually.ts';
import { TOPICS } from './kinds.ts';
import { ClientNodeKube, kubeConfigFor } from './clientnode.ts';
import { ConflictError, type KubeObject, type WatchEventType } from './port.ts';

/** The client-node adapter against the fake API server: the REST shapes both sides agree on. */
describe('ClientNodeKube against the fake API server', () => {
  let fake: FakeApiServer;
  let kube: ClientNodeKube;
  beforeEach(async () => {
    fake = await FakeApiServer.start();
    kube = new ClientNodeKube(kubeConfigFor({ server: fake.url }));
  });
  afterEach(() => fake.close());

  const topic = (name: string, partitions: number) => ({
    apiVersion: 'parley.dev/v1alpha1',
    kind: 'Topic',
    metadata: { name, namespace: 'parley' },
    spec: { partitions, replicationFactor: 1 },
  });

  it('lists with a resourceVersion and watches every later change in order', async () => {
    fake.apply('topics', topic('a', 1));
    const listed = await kube.list(TOPICS);
    expect(listed.items.map((t) => t.metadata.name)).to.deep.equal(['a']);
    const seen: string[] = [];
    const handle = await kube.watch(TOPICS, listed.resourceVersion, (type: WatchEventType, o: KubeObject) =>
      seen.push(`${type} ${o.metadata.name} gen=${o.metadata.generation}`),
    );
    fake.apply('topics', topic('b', 1));
    fake.apply('topics', topic('a', 2));
    fake.delete('topics', 'parley', 'b');
    await eventually(() => expect(seen).to.have.length(3));
    expect(seen).to.deep.equal(['ADDED b gen=1', 'MODIFIED a gen=2', 'DELETED b gen=1']);
    handle.stop();
  });

  it('reports the end of a watch the server closed', async () => {
    const handle = await kube.watch(TOPICS, (await kube.list(TOPICS)).resourceVersion, () => {});
    fake.dropWatches();
    expect(await handle.ended).to.equal(null);
  });

  it('patches status without touching spec or generation, and refuses a stale resourceVersion with 409', async () => {
    const created = fake.apply('topics', topic('a', 3));
    const rv = created.metadata.resourceVersion!;
    const after = await kube.patchStatus<KubeObject & { status: { partitions: number } }>(
      TOPICS,
      'parley',
      'a',
      { partitions: 3 },
      rv,
    );
    expect(after.status.partitions).to.equal(3);
    expect(after.metadata.generation).to.equal(1);
    let err: unknown;
    await kube.patchStatus(TOPICS, 'parley', 'a', { partitions: 4 }, rv).catch((e) => (err = e));
    expect(err).to.be.instanceOf(ConflictError);
    expect(fake.get('topics', 'parley', 'a')!.status).to.deep.equal({ partitions: 3 });
  });

  it('finalizers hold a deletion until removed', async () => {
    const created = fake.apply('topics', topic('a', 1));
    await kube.setFinalizers(
      TOPICS,
      'parley',
      'a',
      ['parley.dev/topic-finalizer'],
      created.metadata.resourceVersion!,
    );
    fake.delete('topics', 'parley', 'a');
    const deleting = (await kube.get(TOPICS, 'parley', 'a'))!;
    expect(deleting.metadata.deletionTimestamp).to.be.a('string');
    await kube.setFinalizers(TOPICS, 'parley', 'a', [], deleting.metadata.resourceVersion!);
    expect(await kube.get(TOPICS, 'parley', 'a')).to.equal(undefined);
  });

  it('reads a Deployment and writes its scale subresource, 409 when stale', async () => {
    fake.apply('deployments', { metadata: { name: 'w', namespace: 'parley' }, spec: { replicas: 1 } });
    expect(await kube.getDeployment('parley', 'w')).to.deep.equal({
      name: 'w',
      namespace: 'parley',
      paused: false,
      replicas: 1,
      readyReplicas: 1,
    });
    expect(await kube.getDeployment('parley', 'missing')).to.equal(undefined);
    const scale = (await kube.getDeploymentScale('parley', 'w'))!;
    const updated = await kube.updateDeploymentScale('parley', 'w', 3, scale.resourceVersion);
    expect(updated.replicas).to.equal(3);
    expect(fake.get('deployments', 'parley', 'w')!.spec!.replicas).to.equal(3);
    let err: unknown;
    await kube.updateDeploymentScale('parley', 'w', 4, scale.resourceVersion).catch((e) => (err = e));
    expect(err).to.be.instanceOf(ConflictError);
  });

  it('creates, reads and updates a Lease with optimistic concurrency', async () => {
    const lease = {
      namespace: 'parley',
      name: 'op',
      holderIdentity: 'a',
      leaseDurationSeconds: 5,
      renewTime: 1_700_000_000_123,
      leaseTransitions: 0,
    };
    const created = await kube.createLease(lease);
    expect(created).to.include({ holderIdentity: 'a', renewTime: 1_700_000_000_123 });
    let err: unknown;
    await kube.createLease(lease).catch((e) => (err = e));
    expect(err).to.be.instanceOf(ConflictError);
    const updated = await kube.updateLease({ ...created, holderIdentity: 'b' });
    expect((await kube.getLease('parley', 'op'))!.holderIdentity).to.equal('b');
    err = undefined;
    await kube.updateLease({ ...created, holderIdentity: 'c' }).catch((e) => (err = e));
    expect(err).to.be.instanceOf(ConflictError);
    expect(updated.resourceVersion).to.not.equal(created.resourceVersion);
  });

  it('creates Events about a resource', async () => {
    await kube.createEvent({
      involved: { kind: 'Topic', apiVersion: 'parley.dev/v1alpha1', namespace: 'parley', name: 'a' },
      type: 'Warning',
      reason: 'NotSupported',
      message: 'nope',
      source: 'parley-operator',
    });
    const [e] = fake.list('events', 'parley');
    expect(e).to.deep.include({ reason: 'NotSupported', type: 'Warning', message: 'nope' });
  });
});
