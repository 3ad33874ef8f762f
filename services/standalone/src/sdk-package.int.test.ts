import { expect } from 'chai';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Running } from '@parley/common';
import { runStandalone } from './app.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;

/** What both programs do, against a running Parley: register, connect, send, receive, resume. */
const PROGRAM = `
import { ParleyClient, ParleySocket, ParleyApiError } from '@parley/client';

const base = process.argv[2];
const tag = Math.random().toString(36).slice(2, 8);
const alice = new ParleyClient({ baseUrl: base });
const bob = new ParleyClient({ baseUrl: base });
await alice.register({ username: 'pkg_a_' + tag, password: 'correct horse battery' });
await bob.register({ username: 'pkg_b_' + tag, password: 'correct horse battery' });
const chat = await alice.createConversation({ type: 'direct', members: ['pkg_b_' + tag] });

const received = [];
const socket = new ParleySocket({ client: bob, WebSocket: globalThis.WebSocket });
socket.on('message', (m) => received.push(m.seq));
await socket.connect();
const sender = new ParleySocket({ client: alice, WebSocket: globalThis.WebSocket });
await sender.connect();
const ack = await sender.send(chat.id, { body: 'one' });
const until = async (what, ok) => {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 20));
  }
};
await until('the first message', () => received.length === 1);
socket.close();
await sender.send(chat.id, { body: 'two' });
await sender.send(chat.id, { body: 'three' });
// Reconnect: the session resumes from the last seq it holds and gets exactly the gap.
const again = new ParleySocket({ client: bob, WebSocket: globalThis.WebSocket });
again.setCursor(chat.id, received[0]);
again.on('message', (m) => received.push(m.seq));
await again.connect();
await until('the resumed messages', () => received.length === 3);
let code = '';
try {
  await alice.createConversation({ type: 'direct', members: ['nobody_' + tag] });
} catch (err) {
  if (err instanceof ParleyApiError) code = err.code;
}
again.close();
sender.close();
console.log(JSON.stringify({ ackId: typeof ack.id, received, code }));
`;

/**
 * The SDK as npm users get it (#18): `scripts/sdk/pack.sh` builds the tarball; a scratch project
 * installs it and uses it from plain JavaScript (run) and from TypeScript (strict `tsc --noEmit`).
 */
describe('@parley/client from its npm tarball', function () {
  this.timeout(180_000);
  let running: Running;
  let dataDir: string;
  let scratch: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'parley-sdk-data-'));
    scratch = mkdtempSync(join(tmpdir(), 'parley-sdk-scratch-'));
    running = await runStandalone({
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'silent',
      RATE_LIMIT_REGISTER_PER_15MIN: '1000',
    });
    await running.ready;
    const tarball = execFileSync('bash', [join(ROOT, 'scripts/sdk/pack.sh'), join(scratch, 'pack')], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    writeFileSync(
      join(scratch, 'package.json'),
      JSON.stringify({ name: 'scratch', private: true, type: 'module' }),
    );
    // The SDK has no dependencies: installing its tarball needs no registry.
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], {
      cwd: scratch,
      stdio: 'pipe',
    });
  });
  after(async () => {
    await running?.stop('test');
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it('installs compiled ESM with declarations and an exports map, and no TypeScript sources', () => {
    const pkg = JSON.parse(
      execFileSync('node', ['-p', 'JSON.stringify(require("@parley/client/package.json"))'], {
        cwd: scratch,
        encoding: 'utf8',
      }),
    );
    expect(pkg.exports['.']).to.deep.equal({ types: './dist/index.d.ts', default: './dist/index.js' });
    const files = execFileSync('find', ['node_modules/@parley/client', '-type', 'f'], {
      cwd: scratch,
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).to.deep.equal([]);
    expect(files).to.include('node_modules/@parley/client/dist/index.d.ts');
  });

  it('works from plain JavaScript: register, connect, send, receive, resume', async () => {
    writeFileSync(join(scratch, 'app.mjs'), PROGRAM);
    // Node 20 has WebSocket behind a flag (22 has it by default); browsers always do.
    // Asynchronously: the server under test runs in this process.
    const r = await promisify(execFile)(
      process.execPath,
      ['--experimental-websocket', 'app.mjs', running.url],
      {
        cwd: scratch,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out).to.deep.equal({ ackId: 'string', received: [1, 2, 3], code: 'USER_NOT_FOUND' });
  });

  it('type-checks from TypeScript (strict, NodeNext)', () => {
    writeFileSync(
      join(scratch, 'app.ts'),
      `${PROGRAM.replace('const received = [];', 'const received: number[] = [];').replace(
        'const until = async (what, ok) =>',
        'const until = async (what: string, ok: () => boolean) =>',
      )}\nexport {};\n`,
    );
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          lib: ['ES2023', 'DOM'],
          // The program reads process.argv: Node's types, from this repository.
          typeRoots: [join(ROOT, 'node_modules/@types')],
          types: ['node'],
          skipLibCheck: false,
        },
        files: ['app.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: scratch, encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
  });
});
