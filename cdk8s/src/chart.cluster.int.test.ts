import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Cluster, command } from '@parley/operators/testing';
import { waitFor } from '@parley/common';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CHART = fileURLToPath(new URL('../../charts/parley', import.meta.url));
const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/audit': 'restricted',
};
/** What `helm uninstall` leaves on purpose (README, "Uninstall"): data volumes and the credentials. */
const KEPT = new Set([
  'PersistentVolumeClaim',
  'Secret',
  'ConfigMap/kube-root-ca.crt',
  'ServiceAccount/default',
]);

/** The rendered objects of a release, as `kind/name`. */
function objectsOf(manifest: string): string[] {
  return parseAllDocuments(manifest)
    .map((d) => d.toJS() as Json | null)
    .filter((d): d is Json => d !== null)
    .map((d) => `${d.kind}/${d.metadata.name}`);
}

/**
 * The chart's whole lifecycle against a real API server (scripts/kube: etcd, kube-apiserver with
 * RBAC and the default admission plugins, kube-controller-manager; no kubelet, so pods stay
 * Pending): install, upgrade to changed values, rollback, uninstall, for every profile, in
 * namespaces that enforce Pod Security "restricted".
 */
describe('the Helm chart against a real API server', function () {
  this.timeout(300_000);
  let cluster: Cluster;
  const namespaces: string[] = [];

  before(async function () {
    if (!process.env.PARLEY_KUBE_BIN) this.skip();
    cluster = new Cluster();
    // Topics another suite left behind with finalizers would hold the CRD deletion forever.
    await cluster.releaseTopics();
    // Each run starts without the CRDs (Parley's, the Prometheus Operator's), as a fresh cluster does (other suites may have applied them).
    await cluster.kubectl([
      'delete',
      'crd',
      'topics.parley.dev',
      'consumerautoscalers.parley.dev',
      'servicemonitors.monitoring.coreos.com',
      'prometheusrules.monitoring.coreos.com',
      '--ignore-not-found',
      '--wait',
    ]);
  });
  after(async () => {
    for (const ns of namespaces) await cluster?.deleteNamespace(ns);
  });

  async function restrictedNamespace(prefix: string): Promise<string> {
    const ns = await cluster.namespace(prefix, RESTRICTED);
    namespaces.push(ns);
    return ns;
  }

  /** `helm install|upgrade parley` with a profile, failing on any Pod Security warning at admission. */
  async function release(verb: 'install' | 'upgrade', ns: string, values: string, extra: string[] = []) {
    const r = await cluster.helm([verb, 'parley', CHART, '-n', ns, '-f', `${CHART}/${values}`, ...extra]);
    expect(r.code, r.stderr).to.equal(0);
    // No Pod Security warning at admission of any workload (Deployments, StatefulSets, Jobs).
    expect(r.stderr).to.not.match(/PodSecurity|would violate/);
    return r;
  }

  async function manifest(ns: string): Promise<string> {
    const r = await cluster.helm(['get', 'manifest', 'parley', '-n', ns]);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout;
  }

  /** Every object of the release exists; the controllers created pods and no pod was refused. */
  async function admitted(ns: string): Promise<void> {
    const rendered = await manifest(ns);
    const got = await cluster.kubectl(['get', '-n', ns, '-f', '-', '-o', 'name'], rendered);
    expect(got.code, got.stderr).to.equal(0);
    expect(got.stdout.trim().split('\n')).to.have.length(objectsOf(rendered).length);
    await cluster.established(['topics.parley.dev', 'consumerautoscalers.parley.dev']);
    // ReplicaSets, StatefulSets and Jobs made their pods: each admitted under "restricted".
    await waitFor(
      async () => {
        const pods = (await cluster.get<Json>(['pods', '-n', ns]))!.items as Json[];
        return expect(pods.length).to.be.greaterThan(3);
      },
      { timeoutMs: 60_000 },
    );
    const refused = (await cluster.get<Json>([
      'events',
      '-n',
      ns,
      '--field-selector',
      'reason=FailedCreate',
    ]))!.items as Json[];
    expect(refused.map((e) => e.message)).to.deep.equal([]);
  }

  async function leftovers(ns: string): Promise<string[]> {
    const r = await cluster
      .check([
        'get',
        'all,configmaps,secrets,serviceaccounts,roles,rolebindings,networkpolicies,poddisruptionbudgets,ingresses,persistentvolumeclaims,topics.parley.dev,consumerautoscalers.parley.dev,servicemonitors.monitoring.coreos.com,prometheusrules.monitoring.coreos.com',
        '-n',
        ns,
        '-o',
        'json',
        '--ignore-not-found',
      ])
      .catch(async () =>
        // Without the Prometheus Operator's CRDs, ask for the rest.
        cluster.check([
          'get',
          'all,configmaps,secrets,serviceaccounts,roles,rolebindings,networkpolicies,poddisruptionbudgets,ingresses,persistentvolumeclaims,topics.parley.dev,consumerautoscalers.parley.dev',
          '-n',
          ns,
          '-o',
          'json',
        ]),
      );
    return ((JSON.parse(r) as Json).items as Json[])
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .filter((k) => !KEPT.has(k) && !KEPT.has(k.split('/')[0]!));
  }

  const profiles: [string, string][] = [
    ['kind', 'values-kind.yaml'],
    ['minikube', 'values-minikube.yaml'],
    ['local one-node cluster', 'values-local.yaml'],
    ['production', 'values-production.yaml'],
    ['ZooKeeper mode', 'ci/zookeeper-values.yaml'],
    ['existing Secrets', 'ci/existing-secrets-values.yaml'],
  ];
  for (const [profile, values] of profiles) {
    it(`${profile}: install, upgrade, rollback and uninstall; every object admitted under Pod Security "restricted"`, async () => {
      const ns = await restrictedNamespace(`chart-${profile.split(' ')[0]!.toLowerCase()}`);
      await release('install', ns, values);
      await admitted(ns);
      const api = async () =>
        (await cluster.get<Json>(['deployment', '-n', ns, 'parley-message-api']))!.spec.replicas as number;
      const before = await api();

      await release('upgrade', ns, values, [
        '--set=message.api.autoscaling.enabled=false',
        `--set=message.api.replicaCount=${before + 2}`,
        '--set=topics.retentionMs=3600000',
      ]);
      expect(await api()).to.equal(before + 2);
      const topic = (await cluster.get<Json>(['topics.parley.dev', '-n', ns, 'parley-chat-messages']))!;
      expect(topic.spec.config['retention.ms']).to.equal('3600000');
      await admitted(ns);

      const back = await cluster.helm(['rollback', 'parley', '1', '-n', ns]);
      expect(back.code, back.stderr).to.equal(0);
      expect(await api()).to.equal(before);
      const history = await cluster.helm(['history', 'parley', '-n', ns, '-o', 'json']);
      expect((JSON.parse(history.stdout) as Json[]).map((h) => h.status)).to.deep.equal([
        'superseded',
        'superseded',
        'deployed',
      ]);

      const gone = await cluster.helm(['uninstall', 'parley', '-n', ns, '--wait', '--timeout', '2m']);
      expect(gone.code, gone.stderr).to.equal(0);
      // The garbage collector removes what the controllers made (ReplicaSets, pods) by ownerReferences.
      await waitFor(async () => expect(await leftovers(ns)).to.deep.equal([]), {
        timeoutMs: 90_000,
        intervalMs: 500,
      });
      // The CRDs stay: deleting them would delete every Topic of every release.
      expect(await cluster.get(['crd', 'topics.parley.dev'])).to.not.equal(undefined);
    });
  }

  it('a second release in another namespace installs beside the first (the CRDs are shared, not owned)', async () => {
    const [a, b] = [await restrictedNamespace('chart-a'), await restrictedNamespace('chart-b')];
    await release('install', a, 'values-kind.yaml');
    const second = await release('install', b, 'values-kind.yaml');
    expect(second.stdout).to.match(/STATUS: deployed/);
    await admitted(b);
    // helm owns no CRD: it neither adopts nor deletes them.
    const crd = (await cluster.get<Json>(['crd', 'topics.parley.dev']))!;
    expect(crd.metadata.annotations ?? {}).to.not.have.property('meta.helm.sh/release-name');
    expect((await cluster.helm(['uninstall', 'parley', '-n', a])).code).to.equal(0);
    expect(await cluster.get(['topics.parley.dev', '-n', b, 'parley-chat-messages'])).to.not.equal(undefined);
  });

  it('the CRD upgrade step the README gives (server-side apply of crds/) works over helm-installed CRDs', async () => {
    const r = await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', `${CHART}/crds/`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(
      /customresourcedefinition.apiextensions.k8s.io\/topics.parley.dev serverside-applied/,
    );
  });

  it('production without the Prometheus Operator: installs, skips ServiceMonitors and PrometheusRule, and says so', async () => {
    const ns = await restrictedNamespace('chart-noprom');
    const r = await release('install', ns, 'values-production.yaml');
    expect(r.stdout).to.match(/WARNING: metrics\.serviceMonitor \/ metrics\.prometheusRule are set/);
    expect(
      objectsOf(await manifest(ns)).filter((k) => /ServiceMonitor|PrometheusRule/.test(k)),
    ).to.deep.equal([]);
  });

  it('production with the Prometheus Operator CRDs: every ServiceMonitor and the PrometheusRule pass their schemas', async () => {
    const crds = await command('bash', [
      fileURLToPath(new URL('../../scripts/kube/prometheus-operator-crds.sh', import.meta.url)),
    ]);
    expect(crds.code, crds.stderr).to.equal(0);
    for (const file of [
      'monitoring.coreos.com_servicemonitors.yaml',
      'monitoring.coreos.com_prometheusrules.yaml',
    ]) {
      const applied = await cluster.kubectl(
        ['apply', '--server-side', '-f', '-'],
        readFileSync(`${crds.stdout.trim()}/${file}`, 'utf8'),
      );
      expect(applied.code, applied.stderr).to.equal(0);
    }
    await cluster.established([
      'servicemonitors.monitoring.coreos.com',
      'prometheusrules.monitoring.coreos.com',
    ]);
    const ns = await restrictedNamespace('chart-prom');
    const r = await release('install', ns, 'values-production.yaml');
    expect(r.stdout).to.not.match(/WARNING: metrics/);
    const monitors = (await cluster.get<Json>(['servicemonitors.monitoring.coreos.com', '-n', ns]))!
      .items as Json[];
    expect(monitors.length).to.be.greaterThan(3);
    expect(
      await cluster.get(['prometheusrules.monitoring.coreos.com', '-n', ns, 'parley-alerts']),
    ).to.not.equal(undefined);
    await admitted(ns);
  });
});
