import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@parley/common';
import { runStandalone } from './app.ts';

const MAIN = new URL('./main.ts', import.meta.url).pathname;

describe('embedded mode (one process, embedded adapters)', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-standalone-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('serves health, readiness, metrics and version with no external server, data under DATA_DIR', async () => {
    const running = await runStandalone({
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
    });
    try {
      await running.ready;
      expect((await fetch(`${running.url}/healthz`)).status).to.equal(200);
      const ready = await fetch(`${running.managementUrl}/readyz`);
      expect(ready.status).to.equal(200);
      const body = (await ready.json()) as { dependencies: Record<string, { state: string }> };
      expect(Object.keys(body.dependencies).sort()).to.deep.equal([
        'cache',
        'eventlog',
        'modules',
        'objectstore',
        'store',
      ]);
      expect(await (await fetch(`${running.managementUrl}/metrics`)).text()).to.include(
        'parley_http_requests_total',
      );
      expect(
        ((await (await fetch(`${running.managementUrl}/version`)).json()) as { service: string }).service,
      ).to.equal('parley');
      expect(existsSync(join(dir, 'parley.db'))).to.equal(true);
      // The public port answers liveness only (#15): what the ingress routes reveals nothing.
      for (const path of ['/readyz', '/metrics', '/version'])
        expect((await fetch(`${running.url}${path}`)).status, path).to.equal(404);
      expect(new URL(running.managementUrl).port).to.not.equal(new URL(running.url).port);
    } finally {
      expect(await running.stop('test')).to.equal(true);
    }
  });

  it('reports an unreachable Kafka on /readyz and keeps retrying instead of crashing', async () => {
    const running = await runStandalone({
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      KAFKA_BROKERS: '127.0.0.1:1',
      SHUTDOWN_TIMEOUT_MS: '5000',
    });
    try {
      const body = await waitFor(
        async () => {
          const res = await fetch(`${running.managementUrl}/readyz`);
          const b = (await res.json()) as { dependencies: Record<string, { state: string }> };
          return res.status === 503 && b.dependencies.eventlog?.state === 'down' ? b : null;
        },
        { timeoutMs: 15_000, what: 'eventlog down on /readyz' },
      );
      expect(body.dependencies.store?.state).to.equal('up');
      expect((await fetch(`${running.url}/healthz`)).status).to.equal(200);
    } finally {
      expect(await running.stop('test')).to.equal(true);
    }
  });

  it('stops start-up with one line naming a bad setting', async () => {
    const { code, stderr } = await runMain({ PORT: 'eighty', DATA_DIR: dir });
    expect(code).to.equal(1);
    expect(stderr.trim().split('\n')).to.deep.equal([
      'parley: invalid configuration: in http.port (PORT): must be an integer (got "eighty")',
    ]);
  });

  it('exits 0 within the deadline on SIGTERM', async () => {
    const { code } = await runMain(
      { PORT: '0', MANAGEMENT_PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir },
      true,
    );
    expect(code).to.equal(0);
  });
});

function runMain(
  env: Record<string, string>,
  sigtermWhenReady = false,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { PATH: process.env.PATH, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    let signalled = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (sigtermWhenReady && !signalled && stdout.includes('"msg":"ready"')) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out; stderr: ${stderr}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
