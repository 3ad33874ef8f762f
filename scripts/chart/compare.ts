/**
 * Proves the chart and the cdk8s app agree: the documents `helm template` rendered with some
 * values files equal the plain manifests the app synthesizes with the same files (apart from
 * Helm-only test hooks and the managed-by label). Exit 1 with the differences otherwise.
 *
 *   node --import tsx scripts/chart/compare.ts <rendered.yaml> [values.yaml…]
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { loadValues, synthPlain } from '../../cdk8s/src/main.ts';

type Json = Record<string, unknown>;

function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => k !== 'app.kubernetes.io/managed-by')
        .map(([k, x]) => [k, normalize(x)]),
    );
  }
  return v;
}

function index(text: string): Map<string, Json> {
  const docs = parseAllDocuments(text)
    .map((d) => d.toJS() as Json | null)
    .filter((d): d is Json => d !== null)
    .filter((d) => !((d.metadata as Json).annotations as Json | undefined)?.['helm.sh/hook']);
  const out = new Map<string, Json>();
  for (const d of docs) {
    const meta = d.metadata as Json;
    out.set(`${String(d.kind)}/${String(meta.name)}`, normalize(d) as Json);
  }
  return out;
}

/** The first differing path between two values. */
function firstDifference(a: unknown, b: unknown, path = ''): string {
  if (isDeepStrictEqual(a, b)) return '';
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference((a as Json)[key], (b as Json)[key], `${path}.${key}`);
      if (d) return d;
    }
  }
  return `${path}: chart ${JSON.stringify(a)} vs cdk8s ${JSON.stringify(b)}`;
}

/** Differences between a chart rendering and the app's manifests for the same values. */
export function compare(rendered: string, valuesFiles: readonly string[]): string[] {
  const chart = index(rendered);
  const app = index(synthPlain(loadValues(valuesFiles)));
  const problems: string[] = [];
  for (const key of chart.keys()) if (!app.has(key)) problems.push(`${key}: only in the chart`);
  for (const [key, doc] of app) {
    const other = chart.get(key);
    if (!other) problems.push(`${key}: only in the cdk8s app`);
    else if (!isDeepStrictEqual(other, doc)) problems.push(`${key}${firstDifference(other, doc)}`);
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [rendered, ...values] = process.argv.slice(2);
  if (!rendered) throw new Error('usage: compare.ts <rendered.yaml> [values.yaml…]');
  const problems = compare(readFileSync(rendered, 'utf8'), values);
  if (problems.length > 0) {
    console.error(
      `chart and cdk8s app differ for ${values.join(', ') || 'the defaults'}:\n  ${problems.join('\n  ')}`,
    );
    process.exit(1);
  }
  console.log(`chart = cdk8s app for ${values.join(', ') || 'the defaults'}`);
}
