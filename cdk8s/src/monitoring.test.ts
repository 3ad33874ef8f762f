import { Ajv } from 'ajv';
import { expect } from 'chai';
import { parse } from 'yaml';
import { alertRules } from './monitoring.ts';
import { synthDocs, type Json } from './testkit.ts';
import { defaultValues, parleyValuesSpec, RUNBOOK_BASE_URL } from './values/parley.ts';
import { jsonSchemaOf, mergeValues } from './values/spec.ts';

const WIKI = 'https://wiki.example.com/ops/parley-runbooks';
const rulesOn = { prometheusRule: true, prometheusConfig: true };
const withMetrics = (metrics: Record<string, unknown>) =>
  synthDocs(mergeValues(defaultValues(), { metrics: { ...rulesOn, ...metrics } }));

/** alert → runbook_url in a rule file object. */
const runbookUrls = (rules: { groups: Json[] }): Record<string, string> =>
  Object.fromEntries(
    rules.groups.flatMap((g) => g.rules.map((r: Json) => [r.alert, r.annotations.runbook_url])),
  );

/** alert → runbook_url in the PrometheusRule and in the plain prometheus.yml ConfigMap's rule file. */
function shipped(docs: Json[]): {
  prometheusRule: Record<string, string>;
  configMap: Record<string, string>;
} {
  const rule = docs.find((d) => d.kind === 'PrometheusRule')!;
  const config = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'parley-prometheus-config')!;
  return {
    prometheusRule: runbookUrls(rule.spec),
    configMap: runbookUrls(parse(config.data['parley-rules.yml'])),
  };
}

describe('metrics.runbookBaseUrl', () => {
  const source = runbookUrls(alertRules());

  it('links by default to monitoring/RUNBOOKS.md as rules.yaml has it', () => {
    expect(Object.keys(source)).to.have.length.above(10);
    for (const [alert, url] of Object.entries(source))
      expect(url, alert).to.match(new RegExp(`^${RUNBOOK_BASE_URL.replaceAll('.', '\\.')}#[a-z0-9-]+$`));
    const { prometheusRule, configMap } = shipped(withMetrics({}));
    expect(prometheusRule).to.deep.equal(source);
    expect(configMap).to.deep.equal(source);
  });

  it('moves every runbook_url, in the PrometheusRule and the plain rule file, to <base>#<anchor>', () => {
    const { prometheusRule, configMap } = shipped(withMetrics({ runbookBaseUrl: WIKI }));
    const moved = Object.fromEntries(
      Object.entries(source).map(([alert, url]) => [alert, `${WIKI}#${url.split('#')[1]}`]),
    );
    expect(prometheusRule).to.deep.equal(moved);
    expect(configMap).to.deep.equal(moved);
  });

  it('changes nothing in the rules but the links', () => {
    const strip = (rules: { groups: Json[] }) =>
      JSON.stringify(rules).replaceAll(RUNBOOK_BASE_URL, '').replaceAll(WIKI, '');
    expect(strip(alertRules(WIKI))).to.equal(strip(alertRules()));
  });

  it('keeps a $ in the base as written', () => {
    expect(Object.values(runbookUrls(alertRules('https://x.example/$&')))[0]).to.match(
      /^https:\/\/x\.example\/\$&#/,
    );
  });

  const validate = new Ajv({ allowUnionTypes: true, allErrors: true }).compile(
    jsonSchemaOf(parleyValuesSpec),
  );
  const refused: [string, string][] = [
    ['without a scheme', 'wiki.example.com/runbooks'],
    ['with a fragment of its own', `${WIKI}#top`],
    ['with a space', 'https://wiki.example.com/parley runbooks'],
  ];
  for (const [what, runbookBaseUrl] of refused) {
    it(`is refused by values.schema.json ${what}`, () => {
      expect(validate(mergeValues(defaultValues(), { metrics: { runbookBaseUrl } }))).to.equal(false);
      expect(validate.errors?.map((e) => `${e.instancePath} ${e.message}`)).to.include(
        '/metrics/runbookBaseUrl must match pattern "^https?://[^\\s#]+$"',
      );
    });
  }
});

describe('alert job selectors', () => {
  const docs = withMetrics({ serviceMonitor: true });
  // A ServiceMonitor's targets get job=<Service name>; the plain prometheus.yml names jobs by component.
  const monitored = docs.filter((d) => d.kind === 'ServiceMonitor').map((d) => d.metadata.name as string);
  const config = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'parley-prometheus-config')!;
  const plainJobs = [...(config.data['prometheus.yml'] as string).matchAll(/job_name: (\S+)/g)].map(
    (m) => m[1]!,
  );
  const selectors = alertRules().groups.flatMap((g) =>
    (g.rules as Json[]).flatMap((r) =>
      [...(r.expr as string).matchAll(/job=~"([^"]+)"/g)].map(
        (m) => [r.alert as string, new RegExp(`^${m[1]}$`)] as const,
      ),
    ),
  );

  it('select jobs the chart really scrapes, with and without the Prometheus Operator', () => {
    expect(selectors.map(([alert]) => alert)).to.include.members([
      'ParleyServiceDown',
      'ParleyNotifierLagging',
      'ParleyMediaCleanupFailing',
    ]);
    for (const [alert, re] of selectors) {
      expect(
        monitored.some((j) => re.test(j)),
        `${alert} ${re} in ${monitored.join(' ')}`,
      ).to.equal(true);
      expect(
        plainJobs.some((j) => re.test(j)),
        `${alert} ${re} in ${plainJobs.join(' ')}`,
      ).to.equal(true);
    }
  });

  it('watch every Parley process for ParleyServiceDown', () => {
    const down = selectors.find(([alert]) => alert === 'ParleyServiceDown')![1];
    const apps = ['auth', 'message-api', 'message-worker', 'message-media', 'message-notifier', 'operator'];
    for (const app of apps) {
      expect(down.test(`parley-${app}`), app).to.equal(true);
      expect(down.test(app), app).to.equal(true);
    }
  });
});
