import { expect } from 'chai';
import { waitFor } from '@parley/common';
import { requireEnv } from '@parley/common/testing';
import { MessageHarness } from '../testing/harness.ts';
import { TcpProxy } from '../testing/tcp-proxy.ts';

interface Readiness {
  status: string;
  dependencies: Record<string, { state: string; error?: string }>;
}

const readyz = async (managementUrl: string) => {
  const res = await fetch(`${managementUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as Readiness };
};

describe('media readiness follows the object store (SeaweedFS of the local stack)', function () {
  this.timeout(60_000);
  const s3 = new URL(requireEnv('S3_ENDPOINT'));
  const proxy = new TcpProxy({ host: s3.hostname, port: Number(s3.port) });
  const h = new MessageHarness(() => ({
    S3_ENDPOINT: proxy.url,
    S3_BUCKET: requireEnv('S3_BUCKET'),
    S3_ACCESS_KEY_ID: requireEnv('S3_ACCESS_KEY_ID'),
    S3_SECRET_ACCESS_KEY: requireEnv('S3_SECRET_ACCESS_KEY'),
    S3_FORCE_PATH_STYLE: 'true',
    S3_CREATE_BUCKET: 'true',
    MEDIA_STORE_CHECK_SECONDS: '1',
  }));

  before(async () => {
    await proxy.open();
    await h.start();
  });
  after(async () => {
    await h.stop();
    await proxy.cut();
  });

  it('is ready with SeaweedFS answering, unready naming the object store when it stops, ready again after', async () => {
    const up = await readyz(h.running.managementUrl);
    expect(up.status, JSON.stringify(up.body)).to.equal(200);
    expect(up.body.dependencies.objectstore).to.include({ state: 'up' });
    await proxy.cut();
    const down = await waitFor(
      async () => {
        const r = await readyz(h.running.managementUrl);
        return r.status === 503 ? r : undefined;
      },
      { timeoutMs: 15_000, what: '/readyz 503 with the object store cut off' },
    );
    expect(down.body.status).to.equal('unavailable');
    expect(down.body.dependencies.objectstore!.state).to.equal('down');
    expect(down.body.dependencies.objectstore!.error).to.be.a('string').and.not.equal('');
    // Everything else stays up: only the object store is named.
    const others = Object.entries(down.body.dependencies).filter(
      ([k, d]) => k !== 'objectstore' && d.state !== 'up',
    );
    expect(others).to.deep.equal([]);
    await proxy.open();
    await waitFor(async () => (await readyz(h.running.managementUrl)).status === 200 || undefined, {
      timeoutMs: 15_000,
      what: '/readyz 200 after the object store came back',
    });
  });

  it('with a wrong endpoint: up and serving, but unready with the object store down', async () => {
    // As in production, the bucket is not created at start: the process comes up and says why it is unready.
    const wrong = await h.boot({ S3_ENDPOINT: 'http://127.0.0.1:9', S3_CREATE_BUCKET: 'false' });
    try {
      const r = await readyz(wrong.managementUrl);
      expect(r.status).to.equal(503);
      expect(r.body.dependencies.objectstore!.state).to.equal('down');
      expect(r.body.dependencies.objectstore!.error).to.match(/ECONNREFUSED|connect/i);
      expect((await fetch(`${wrong.url}/healthz`)).status).to.equal(200);
    } finally {
      await wrong.stop('test');
    }
  });
});

describe('media readiness names a missing bucket', function () {
  this.timeout(60_000);
  const h = new MessageHarness(() => ({
    S3_ENDPOINT: requireEnv('S3_ENDPOINT'),
    S3_BUCKET: `parley-missing-${Date.now()}`,
    S3_ACCESS_KEY_ID: requireEnv('S3_ACCESS_KEY_ID'),
    S3_SECRET_ACCESS_KEY: requireEnv('S3_SECRET_ACCESS_KEY'),
  }));
  before(() => h.start());
  after(() => h.stop());

  it('answers 503 with "no such bucket" on a reachable SeaweedFS without the bucket', async () => {
    const r = await readyz(h.running.managementUrl);
    expect(r.status).to.equal(503);
    expect(r.body.dependencies.objectstore).to.include({ state: 'down' });
    expect(r.body.dependencies.objectstore!.error).to.match(
      /^HeadBucket parley-missing-\d+: HTTP 404 no such bucket$/,
    );
  });
});
