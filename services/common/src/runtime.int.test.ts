import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './retry.ts';
import { runService } from './service.ts';
import { commonSettings } from './settings.ts';

describe('module start', () => {
  it('retries a module that cannot start yet, staying up and unready until it does (#21)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-runtime-'));
    let attempts = 0;
    let stopped = 0;
    const running = await runService({
      name: 'retry-test',
      spec: commonSettings,
      env: { PORT: '0', MANAGEMENT_PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, LOG_LEVEL: 'silent' },
      modules: () => [
        {
          name: 'flaky',
          async start() {
            if (++attempts < 3) throw new Error('broker not reachable');
            return async () => void stopped++;
          },
        },
      ],
    });
    try {
      // Unready with the reason while it retries; the public port keeps answering.
      const first = await waitFor(async () => {
        const r = await fetch(`${running.managementUrl}/readyz`);
        const body = (await r.json()) as { dependencies: Record<string, { state: string; error?: string }> };
        return r.status === 503 && body.dependencies.modules?.error === 'broker not reachable' ? body : null;
      });
      expect(first.dependencies.modules?.state).to.equal('down');
      expect((await fetch(`${running.url}/healthz`)).status).to.equal(200);
      await running.ready;
      expect(attempts).to.equal(3);
      expect((await fetch(`${running.managementUrl}/readyz`)).status).to.equal(200);
    } finally {
      expect(await running.stop('test')).to.equal(true);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(stopped).to.equal(1);
  });
});
