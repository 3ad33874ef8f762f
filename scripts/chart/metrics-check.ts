/**
 * Every metric an alert or dashboard queries must exist: Parley's own metrics are looked up in
 * the registries the processes build (scripts/metrics-catalogue.ts), exporters' in
 * monitoring/exporter-metrics.yaml. Also: each dashboard is valid JSON with queries, and each alert
 * has severity, summary, description, a `for:`, two promtool cases and a runbook_url of the form
 * `<RUNBOOK_BASE_URL>#<anchor>` (the chart swaps the base for metrics.runbookBaseUrl) whose anchor
 * is a section of monitoring/RUNBOOKS.md.
 *
 *   node --import tsx scripts/chart/metrics-check.ts
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { RUNBOOK_BASE_URL } from '../../cdk8s/src/values/parley.ts';
import { metricCatalogue, seriesNames } from '../metrics-catalogue.ts';

const root = new URL('../../', import.meta.url).pathname;

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const METRIC = /\b(?:parley|kafka|redis|mongodb|node)_[A-Za-z0-9_]+\b|\bup\b/g;

/** The anchors GitHub gives the headings of a Markdown file (`## ParleyServiceDown` → parleyservicedown). */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const prose = markdown.replace(/^(```|~~~)[^]*?^\1/gm, ''); // a `#` line in a code block is no heading
  for (const [, heading] of prose.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let anchor = slug;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${slug}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

/** Series names of the Parley metrics, from the registries the processes build. */
export async function registeredMetrics(): Promise<Set<string>> {
  return new Set((await metricCatalogue()).flatMap(seriesNames));
}

export async function checkMetrics(): Promise<string[]> {
  const known = new Set(
    Object.values(
      parse(readFileSync(join(root, 'monitoring/exporter-metrics.yaml'), 'utf8')) as string[][],
    ).flat(),
  );
  const registered = await registeredMetrics();
  const problems: string[] = [];
  const check = (where: string, expr: string) => {
    for (const [name] of expr.matchAll(METRIC)) {
      const ok = name.startsWith('parley_') ? registered.has(name) : known.has(name);
      if (!ok)
        problems.push(
          `${where}: ${name} is not ${name.startsWith('parley_') ? 'registered in the Parley code' : 'in monitoring/exporter-metrics.yaml'}`,
        );
    }
  };
  const rules = parse(readFileSync(join(root, 'monitoring/prometheus/rules.yaml'), 'utf8')) as {
    groups: { rules: Rule[] }[];
  };
  const tests = readFileSync(join(root, 'monitoring/prometheus/rules.test.yaml'), 'utf8');
  const runbooks = headingAnchors(readFileSync(join(root, 'monitoring/RUNBOOKS.md'), 'utf8'));
  for (const r of rules.groups.flatMap((g) => g.rules)) {
    check(`alert ${r.alert}`, r.expr);
    if (!['critical', 'warning', 'info'].includes(r.labels?.severity ?? ''))
      problems.push(`alert ${r.alert}: no severity`);
    for (const a of ['summary', 'description', 'runbook_url'])
      if (!r.annotations?.[a]) problems.push(`alert ${r.alert}: no ${a}`);
    const url = r.annotations?.runbook_url;
    if (url && !url.startsWith(`${RUNBOOK_BASE_URL}#`))
      problems.push(`alert ${r.alert}: runbook_url ${url} does not start with ${RUNBOOK_BASE_URL}#`);
    else if (url && !runbooks.has(url.slice(RUNBOOK_BASE_URL.length + 1)))
      problems.push(`alert ${r.alert}: runbook_url ${url} names no section of monitoring/RUNBOOKS.md`);
    if (!r.for) problems.push(`alert ${r.alert}: no for: threshold`);
    const cases = tests.match(new RegExp(`alertname: ${r.alert}$`, 'gm'))?.length ?? 0;
    if (cases < 2)
      problems.push(`alert ${r.alert}: ${cases} promtool case(s), want one on each side of its for:`);
  }
  const dir = join(root, 'monitoring/dashboards');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    let dashboard: { panels: { title: string; targets: { expr: string }[] }[] };
    try {
      dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (e) {
      problems.push(`${file}: not valid JSON (${(e as Error).message})`);
      continue;
    }
    if (!dashboard.panels?.length) problems.push(`${file}: no panels`);
    for (const p of dashboard.panels ?? []) {
      if (!p.targets?.length) problems.push(`${file} panel "${p.title}": no queries`);
      for (const t of p.targets ?? []) check(`${file} panel "${p.title}"`, t.expr);
    }
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = await checkMetrics();
  if (problems.length > 0) {
    console.error(`monitoring problems:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log('alerts complete and tested; every metric in the alerts and dashboards exists');
}
