import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));

/** The drivers behind the production adapters: only '@parley/common/dependencies' may load them. */
const drivers = ['mongodb', 'mongoose', 'kafkajs', 'ioredis', 'better-sqlite3', 'twilio'];

/**
 * Every module a fresh Node process loads while importing `specifier` (through tsx, as the
 * services run): ES modules as a module-loading hook sees them, and CommonJS ones (which the
 * drivers are, and which require one another outside the hooks) from the require cache.
 */
async function modulesLoadedBy(specifier: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-entrypoints-'));
  try {
    const list = join(dir, 'loaded.txt');
    const hooks =
      'import { appendFileSync } from "node:fs"; let file;' +
      'export function initialize(data) { file = data.file; }' +
      'export async function load(url, context, next) { appendFileSync(file, url + "\\n"); return next(url, context); }';
    const script = `
      import { register, createRequire } from 'node:module';
      import { appendFileSync } from 'node:fs';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}), import.meta.url, { data: { file: ${JSON.stringify(list)} } });
      await import(${JSON.stringify(specifier)});
      appendFileSync(${JSON.stringify(list)}, Object.keys(createRequire(import.meta.url).cache).join('\\n') + '\\n');
    `;
    await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: here });

    return readFileSync(list, 'utf8').split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function driversIn(modules: string[]): string[] {
  return drivers.filter((d) => modules.some((m) => m.includes(`/node_modules/${d}/`)));
}

describe('@parley/common entry points', function () {
  this.timeout(60_000);

  it('importing @parley/common loads no database, Kafka, Redis or SMS driver', async () => {
    const modules = await modulesLoadedBy('@parley/common');
    expect(
      modules.some((m) => m.endsWith('/services/common/src/index.ts')),
      'index loaded',
    ).to.equal(true);
    expect(driversIn(modules)).to.deep.equal([]);
  });

  it('importing @parley/common/dependencies loads every driver (the check above can see them)', async () => {
    expect(driversIn(await modulesLoadedBy('@parley/common/dependencies'))).to.deep.equal(drivers);
  });
});
