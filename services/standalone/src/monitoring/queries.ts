/**
 * Every PromQL expression in monitoring/ (dashboard panels, alerting and recording rules), for
 * the live check against a real Prometheus (prometheus.int.test.ts), and the committed list of
 * those allowed to have no data locally.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';

const MONITORING = new URL('../../../../monitoring/', import.meta.url);

export interface MonitoringQuery {
  /** `dashboard parley.json / <panel title> / A`, `alert <name>` or `record <name>`. */
  id: string;
  kind: 'panel' | 'alert' | 'record';
  /** Dashboard file or alert/record name: the allow-list's key. */
  owner: string;
  /** Panel title, for panels. */
  panel?: string;
  expr: string;
}

/** Every query, with Grafana's `$namespace` variable replaced by `namespace`. */
export function monitoringQueries(namespace: string): MonitoringQuery[] {
  const out: MonitoringQuery[] = [];
  const dir = new URL('dashboards/', MONITORING);
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const d = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as {
      panels: { title: string; targets: { refId: string; expr: string }[] }[];
    };
    for (const p of d.panels)
      for (const t of p.targets)
        out.push({
          id: `dashboard ${file} / ${p.title} / ${t.refId}`,
          kind: 'panel',
          owner: file,
          panel: p.title,
          expr: t.expr.replaceAll('$namespace', namespace),
        });
  }
  const rules = parse(readFileSync(new URL('prometheus/rules.yaml', MONITORING), 'utf8')) as {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  };
  for (const r of rules.groups.flatMap((g) => g.rules)) {
    const kind = r.alert ? 'alert' : 'record';
    const owner = (r.alert ?? r.record)!;
    out.push({ id: `${kind} ${owner}`, kind, owner, expr: r.expr.trim() });
  }
  return out;
}

export interface WithoutData {
  /** Dashboard file → panel title (or `*` for every panel) → reason. */
  dashboards: Record<string, Record<string, string>>;
  /** Alert or record name → reason. */
  rules: Record<string, string>;
}

/** monitoring/queries-without-data.yaml. */
export function allowedWithoutData(): WithoutData {
  const y = parse(
    readFileSync(new URL('queries-without-data.yaml', MONITORING), 'utf8'),
  ) as Partial<WithoutData>;
  return { dashboards: y.dashboards ?? {}, rules: y.rules ?? {} };
}

/** Why `q` may have no data, or undefined when it must have data. */
export function reasonWithoutData(q: MonitoringQuery, allowed: WithoutData): string | undefined {
  if (q.kind === 'panel') {
    const d = allowed.dashboards[q.owner];
    return d?.[q.panel!] ?? d?.['*'];
  }
  return allowed.rules[q.owner];
}

const COMPARISON = ['==', '!=', '>=', '<=', '>', '<'];
const SET_OPERATORS = ['and', 'or', 'unless'];

/**
 * The inputs of an alert expression: split at top-level `and`/`or`/`unless`, and each side cut
 * at its top-level comparison (`… > 0.05`, `x < max_over_time(x[1h])`), keeping the left-hand
 * side. A healthy system does not fire an alert, but each input must still return data, or the
 * alert could never fire. Top level means outside (), [], {} and strings.
 */
export function alertInputs(expr: string): string[] {
  return splitTopLevel(expr, (s, i) => {
    for (const op of SET_OPERATORS)
      if (s.startsWith(op, i) && /\s/.test(s[i - 1] ?? '') && /[\s(]/.test(s[i + op.length] ?? ''))
        return op.length;
    return 0;
  }).map(
    (side) => splitTopLevel(side, (s, i) => COMPARISON.find((op) => s.startsWith(op, i))?.length ?? 0)[0]!,
  );
}

/** Splits `s` at top-level matches; `at(s, i)` returns the length of a separator at i, or 0. */
function splitTopLevel(s: string, at: (s: string, i: number) => number): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (depth === 0) {
      const n = at(s, i);
      if (n > 0) {
        parts.push(s.slice(start, i).trim());
        start = i + n;
        i += n - 1;
      }
    }
  }
  parts.push(s.slice(start).trim());
  return parts;
}
