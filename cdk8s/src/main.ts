/**
 * Synthesizes the plain manifests (`npm run synth`): defaults, or a values file merged over them.
 *
 *   node --import tsx cdk8s/src/main.ts [--values file.yaml]… [--release parley] [--namespace parley] [--out dist/manifests]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { App } from 'cdk8s';
import { parse } from 'yaml';
import { ParleyChart } from './parley-chart.ts';
import { defaultValues, type ParleyValues } from './values/parley.ts';
import { mergeValues } from './values/spec.ts';

/** Defaults with each values file merged over them, in order (as `helm -f a -f b`). */
export function loadValues(files: readonly string[]): ParleyValues {
  return files.reduce((v, f) => mergeValues(v, parse(readFileSync(f, 'utf8')) ?? {}), defaultValues());
}

/** The plain manifests as one multi-document YAML string. */
export function synthPlain(values: ParleyValues, releaseName = 'parley', namespace = 'parley'): string {
  const app = new App();
  new ParleyChart(app, 'parley', { values, releaseName, namespace });
  return app.synthYaml();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values: args } = parseArgs({
    options: {
      values: { type: 'string', short: 'f', multiple: true, default: [] },
      release: { type: 'string', default: 'parley' },
      namespace: { type: 'string', default: 'parley' },
      out: { type: 'string', default: 'dist/manifests/parley.yaml' },
    },
  });
  const out = resolve(args.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, synthPlain(loadValues(args.values), args.release, args.namespace));
  console.log(`wrote ${out}`);
}
