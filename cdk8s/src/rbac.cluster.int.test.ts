import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { AuthorizationV1Api } from '@kubernetes/client-node';
import { operatorRbacRules } from '@parley/operators/crds';
import { Cluster } from '@parley/operators/testing';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CHART = fileURLToPath(new URL('../../charts/parley', import.meta.url));

/** "verb group/resource[/name]" lines: one per permission a rule grants. */
function grants(rules: readonly Json[]): string[] {
  const out = new Set<string>();
  for (const r of rules)
    for (const verb of r.verbs as string[])
      for (const group of (r.apiGroups as string[] | undefined) ?? [''])
        for (const resource of (r.resources as string[] | undefined) ?? [])
          for (const name of (r.resourceNames as string[] | undefined) ?? [''])
            out.add(`${verb} ${group}/${resource}${name ? `/${name}` : ''}`);
  return [...out].sort();
}

/**
 * What each ServiceAccount the chart creates may do, as the real API server's RBAC authorizer
 * decides it (scripts/kube, --authorization-mode=Node,RBAC): exactly what its component needs,
 * and none of a sample of dangerous verbs.
 */
describe('the chart’s RBAC against a real API server', function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let authz: AuthorizationV1Api;
  let ns: string;
  let accounts: string[];
  /** The objects' base name (all-features sets fullnameOverride). */
  let base: string;

  before(async function () {
    if (!process.env.PARLEY_KUBE_BIN) this.skip();
    cluster = new Cluster();
    authz = cluster.kc.makeApiClient(AuthorizationV1Api);
    ns = await cluster.namespace('rbac');
    // All features on: every component, so every ServiceAccount.
    const r = await cluster.helm([
      'install',
      'parley',
      CHART,
      '-n',
      ns,
      '-f',
      `${CHART}/ci/all-features-values.yaml`,
    ]);
    expect(r.code, r.stderr).to.equal(0);
    const sas = (await cluster.get<Json>([
      'serviceaccounts',
      '-n',
      ns,
      '-l',
      'app.kubernetes.io/instance=parley',
    ]))!;
    accounts = (sas.items as Json[]).map((sa) => sa.metadata.name as string).sort();
    base = accounts.find((a) => a.endsWith('-operator'))!.replace(/-operator$/, '');
  });
  after(async () => {
    if (ns) await cluster.deleteNamespace(ns);
  });

  /** The rules the API server reports for a ServiceAccount in the namespace (SelfSubjectRulesReview, impersonated). */
  async function rulesOf(sa: string): Promise<string[]> {
    const review = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectRulesReview',
      spec: { namespace: ns },
    };
    const out = await cluster.check(
      ['create', '--validate=false', '-f', '-', '-o', 'json', `--as=system:serviceaccount:${ns}:${sa}`],
      JSON.stringify(review),
    );
    return grants((JSON.parse(out) as Json).status.resourceRules as Json[]);
  }

  async function allowed(sa: string, attrs: Json): Promise<boolean> {
    const r = await authz.createSubjectAccessReview({
      body: {
        spec: {
          user: `system:serviceaccount:${ns}:${sa}`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
          resourceAttributes: attrs,
        },
      },
    });
    return r.status!.allowed;
  }

  it('creates the ServiceAccounts it should', () => {
    for (const c of [
      'operator',
      'secrets',
      'auth',
      'message-api',
      'message-worker',
      'message-media',
      'message-notifier',
      'dlq-replay',
      'kafka',
      'redis',
      'mongodb',
    ])
      expect(accounts).to.include(`${base}-${c}`);
  });

  it('grants each ServiceAccount exactly what its component needs, beyond what every account has', async () => {
    const baseline = new Set(await rulesOf('default'));
    const needs: Record<string, string[]> = {
      [`${base}-operator`]: grants(operatorRbacRules as unknown as Json[]),
      [`${base}-secrets`]: grants([
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        {
          apiGroups: [''],
          resources: ['secrets'],
          verbs: ['get'],
          resourceNames: [`${base}-jwt`, `${base}-redis`, `${base}-notify`, `${base}-mongodb`],
        },
      ]),
    };
    for (const sa of accounts) {
      const extra = (await rulesOf(sa)).filter((g) => !baseline.has(g));
      expect(extra, sa).to.deep.equal(needs[sa] ?? []);
    }
  });

  const dangerous: [string, Json][] = [
    ['read Secrets in kube-system', { namespace: 'kube-system', verb: 'get', resource: 'secrets' }],
    ['list Secrets in its own namespace', { verb: 'list', resource: 'secrets' }],
    ['read another Secret by name', { verb: 'get', resource: 'secrets', name: 'someone-else' }],
    ['create ClusterRoles', { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' }],
    ['escalate a Role', { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'roles' }],
    ['bind a ClusterRole', { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' }],
    ['create RoleBindings', { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings' }],
    ['exec into pods', { verb: 'create', resource: 'pods', subresource: 'exec' }],
    ['impersonate users', { verb: 'impersonate', resource: 'users' }],
    ['mint ServiceAccount tokens', { verb: 'create', resource: 'serviceaccounts', subresource: 'token' }],
    ['write Deployments (beyond their scale)', { verb: 'update', group: 'apps', resource: 'deployments' }],
    ['delete Topics', { verb: 'delete', group: 'parley.dev', resource: 'topics' }],
    ['list Topics cluster-wide', { namespace: '', verb: 'list', group: 'parley.dev', resource: 'topics' }],
    ['delete namespaces', { namespace: '', verb: 'delete', resource: 'namespaces' }],
    ['write Nodes', { namespace: '', verb: 'patch', resource: 'nodes' }],
    [
      'change CRDs',
      { namespace: '', verb: 'update', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions' },
    ],
  ];
  for (const [what, attrs] of dangerous)
    it(`lets no ServiceAccount ${what}`, async () => {
      for (const sa of accounts)
        expect(await allowed(sa, { namespace: ns, ...attrs }), `${sa} may ${what}`).to.equal(false);
    });

  it('lets the operator do what it calls, in its namespace only', async () => {
    const can = (attrs: Json) => allowed(`${base}-operator`, { namespace: ns, ...attrs });
    expect(await can({ verb: 'watch', group: 'parley.dev', resource: 'topics' })).to.equal(true);
    expect(
      await can({ verb: 'patch', group: 'parley.dev', resource: 'topics', subresource: 'status' }),
    ).to.equal(true);
    expect(
      await can({ verb: 'update', group: 'apps', resource: 'deployments', subresource: 'scale' }),
    ).to.equal(true);
    expect(await can({ verb: 'create', group: 'coordination.k8s.io', resource: 'leases' })).to.equal(true);
    expect(await can({ verb: 'create', resource: 'events' })).to.equal(true);
    expect(
      await can({ namespace: 'default', verb: 'watch', group: 'parley.dev', resource: 'topics' }),
    ).to.equal(false);
  });
});
