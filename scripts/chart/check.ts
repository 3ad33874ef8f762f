/**
 * The Node side of scripts/checks/chart.sh, in one process: charts/ is what the generator makes
 * now (not stale), each `helm template` rendering equals the cdk8s app's manifests for the same
 * values, and the offline kubeconform schemas exist. Prints the schema directory.
 *
 *   node --import tsx scripts/chart/check.ts <rendered.yaml>=<values.yaml>…
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { compare } from './compare.ts';
import { generatedFiles } from './generate.ts';
import { schemaDir } from './schemas.ts';

const charts = new URL('../../charts/', import.meta.url).pathname;

function onDisk(): Map<string, string> {
  const files = new Map<string, string>();
  for (const top of ['parley', 'manifests']) {
    for (const e of readdirSync(join(charts, top), { withFileTypes: true, recursive: true })) {
      if (!e.isFile()) continue;
      const path = join(e.parentPath, e.name);
      files.set(relative(charts, path), readFileSync(path, 'utf8'));
    }
  }
  return files;
}

const problems: string[] = [];
const expected = generatedFiles();
const actual = onDisk();
for (const [file, text] of expected) {
  if (!actual.has(file)) problems.push(`charts/${file}: missing`);
  else if (actual.get(file) !== text) problems.push(`charts/${file}: differs from what the generator writes`);
}
for (const file of actual.keys()) if (!expected.has(file)) problems.push(`charts/${file}: not generated`);
if (problems.length > 0) {
  console.error(
    `charts/ is stale: run 'npm run chart' (node --import tsx scripts/chart/generate.ts) and commit:\n  ${problems.join('\n  ')}`,
  );
  process.exit(1);
}

for (const pair of process.argv.slice(2)) {
  const [rendered, values] = pair.split('=');
  const differences = compare(readFileSync(rendered!, 'utf8'), [values!]);
  if (differences.length > 0) {
    console.error(`the chart and the cdk8s app differ for ${values}:\n  ${differences.join('\n  ')}`);
    process.exit(1);
  }
  console.error(`chart = cdk8s app for ${values}`);
}
console.log(await schemaDir());
