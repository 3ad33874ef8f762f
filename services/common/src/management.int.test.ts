import { expect } from 'chai';
import type { Server } from 'node:http';
import { Health } from './health.ts';
import { createHttpApp } from './http.ts';
import { inject } from './inject.ts';
import { createLogger } from './logger.ts';
import { createManagementServer, listenManagement } from './management.ts';
import { createMetrics } from './metrics.ts';

const logger = createLogger({ level: 'silent', name: 'test' });

describe('management server', () => {
  let server: Server;
  let base: string;
  let health: Health;
  const metrics = createMetrics();

  before(async () => {
    health = new Health(logger);
    server = createManagementServer({ health, metrics, version: { service: 'test', version: '1.2.3' } });
    base = await listenManagement(server, '127.0.0.1', 0);
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const get = async (path: string, method = 'GET') => {
    const res = await fetch(base + path, { method });
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      allow: res.headers.get('allow'),
      text: await res.text(),
    };
  };

  it('reports readiness from dependency state and drains on shutdown', async () => {
    health.register('kafka');
    expect((await get('/readyz')).status).to.equal(503);
    health.up('kafka');
    const up = await get('/readyz');
    expect(up.status).to.equal(200);
    expect(JSON.parse(up.text).dependencies.kafka.state).to.equal('up');
    health.down('kafka', new Error('broker gone'));
    const down = await get('/readyz');
    expect(down.status).to.equal(503);
    expect(JSON.parse(down.text).dependencies.kafka).to.include({ state: 'down', error: 'broker gone' });
    health.up('kafka');
    health.startDraining();
    const draining = await get('/readyz');
    expect(draining.status).to.equal(503);
    expect(JSON.parse(draining.text).status).to.equal('draining');
    expect((await get('/healthz')).status).to.equal(200);
  });

  it('exports the RED metrics of the public app, registered at zero before traffic', async () => {
    const http = createHttpApp({ logger, metrics, bodyLimit: 1024 });
    http.route('POST', '/echo', (req, res) => void res.json(req.body));
    const before = await get('/metrics');
    expect(before.type).to.include('text/plain');
    expect(before.text).to.include(
      'parley_http_requests_total{method="POST",route="/echo",status_class="5xx"} 0',
    );
    const url = await http.listen('127.0.0.1', 0);
    await inject(url, { method: 'POST', url: '/echo', payload: { a: 1 } });
    await http.close();
    const after = (await get('/metrics')).text;
    expect(after).to.include('parley_http_requests_total{method="POST",route="/echo",status_class="2xx"} 1');
    expect(after).to.include(
      'parley_http_request_duration_seconds_bucket{le="0.001",method="POST",route="/echo"}',
    );
    expect(after).to.include('process_resident_memory_bytes');
  });

  it('serves the version', async () => {
    expect(JSON.parse((await get('/version')).text)).to.deep.equal({ service: 'test', version: '1.2.3' });
  });

  it('answers unknown paths with problem+json 404 and writes with 405 and Allow', async () => {
    const missing = await get('/v1/conversations');
    expect(missing.status).to.equal(404);
    expect(missing.type).to.equal('application/problem+json');
    expect(JSON.parse(missing.text).code).to.equal('NOT_FOUND');
    const post = await get('/metrics', 'POST');
    expect(post.status).to.equal(405);
    expect(post.allow).to.equal('GET, HEAD');
    expect((await get('/metrics', 'HEAD')).status).to.equal(200);
  });
});
