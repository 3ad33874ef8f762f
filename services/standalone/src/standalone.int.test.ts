import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@parley/common';
import { runStandalone } from './app.ts';

describe('production adapters selected by configuration alone (real local stack)', function () {
  this.timeout(60_000);

  it('connects to FerretDB, Kafka and Redis Cluster and reports each ready', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-int-'));
    const env = {
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      MONGO_URL: process.env.MONGO_URL ?? '',
      KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '',
      REDIS_NODES: process.env.REDIS_NODES ?? '',
    };
    for (const [k, v] of Object.entries(env))
      if (!v) throw new Error(`${k} is not set: source scripts/stack/env.sh`);
    const running = await runStandalone(env);
    try {
      await running.ready;
      const body = await waitFor(async () => {
        const res = await fetch(`${running.managementUrl}/readyz`);
        return res.status === 200
          ? ((await res.json()) as { dependencies: Record<string, { state: string }> })
          : null;
      });
      expect(
        Object.fromEntries(Object.entries(body.dependencies).map(([k, v]) => [k, v.state])),
      ).to.deep.equal({
        store: 'up',
        eventlog: 'up',
        cache: 'up',
        modules: 'up',
        // The media role's files: the disk store here (no S3_BUCKET).
        objectstore: 'up',
      });
    } finally {
      expect(await running.stop('test')).to.equal(true);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
