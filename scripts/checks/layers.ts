/**
 * The folders of a service form layers: no folder imports, directly or through others, a folder
 * that imports it (#17). Files are grouped by their first folder under `src/` (files directly in
 * `src/` are the composition root and may import anything; nothing below may import them). Tests
 * (`*.test.ts`, `*.suite.ts`, `*.contract.ts`, `testing/`) may import any layer.
 *
 *   node --import tsx scripts/checks/layers.ts services/message/src [more roots…]
 */
import { relative } from 'node:path';
import madge from 'madge';

/** Tests sit on top of everything they test: they are not part of the layering. */
const isTest = (file: string) => /(\.test|\.suite|\.contract)\.ts$|\/testing\//.test(file);

function folderOf(root: string, file: string): string {
  const rel = relative(root, file);
  return rel.includes('/') ? rel.split('/')[0]! : '(root)';
}

const problems: string[] = [];
for (const root of process.argv.slice(2)) {
  const graph = (
    await madge(root, { fileExtensions: ['ts'], tsConfig: 'tsconfig.json', baseDir: '.' })
  ).obj();
  const edges = new Map<string, Set<string>>();
  const why = new Map<string, string>();
  for (const [file, deps] of Object.entries(graph)) {
    if (isTest(file)) continue;
    const from = folderOf(root, file);
    for (const dep of deps) {
      if (!dep.startsWith(root) || isTest(dep)) continue;
      const to = folderOf(root, dep);
      if (to === from) continue;
      if (to === '(root)' && from !== '(root)')
        problems.push(`${root}: ${file} imports ${dep}, in the composition root`);
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
      why.set(`${from}>${to}`, `${file} → ${dep}`);
    }
  }
  // Depth-first search for a cycle among folders.
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const to of edges.get(f) ?? []) {
      if (state.get(to) === 'open') {
        const cycle = [...stack.slice(stack.indexOf(to)), to];
        const hops = cycle.slice(1).map((t, i) => why.get(`${cycle[i]}>${t}`));
        problems.push(`${root}: folders import each other: ${cycle.join(' → ')}\n    ${hops.join('\n    ')}`);
      } else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of edges.keys()) if (!state.has(f)) visit(f);
  const order = [...edges.entries()].map(([f, tos]) => `${f} → ${[...tos].sort().join(', ')}`).sort();
  console.log(`${root}: ${order.join('; ')}`);
}
if (problems.length > 0) {
  console.error(`layer check FAILED:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('layer check passed: no folder imports one that imports it');
