import { expect } from 'chai';
import type { FastifyInstance } from 'fastify';
import { commonErrors, PROBLEM_BASE, problems } from './errors.ts';
import { Health } from './health.ts';
import { createHttpApp } from './http.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';

const logger = createLogger({ level: 'silent', name: 'test' });

function build(): { app: FastifyInstance; health: Health } {
  const health = new Health(logger);
  const app = createHttpApp({
    logger,
    metrics: createMetrics(),
    health,
    bodyLimit: 1024,
    version: { service: 'test', version: '1.2.3' },
  });
  app.post('/echo', async (req) => req.body);
  app.get('/boom', async () => {
    throw new Error('secret internals');
  });
  app.get('/limited', async () => {
    throw problems.RATE_LIMITED('slow down', { headers: { 'retry-after': '7' } });
  });
  app.post(
    '/typed',
    {
      schema: {
        body: {
          type: 'object',
          required: ['n'],
          additionalProperties: false,
          properties: { n: { type: 'integer' } },
        },
      },
    },
    async (req) => req.body,
  );
  return { app, health };
}

describe('HTTP conventions', () => {
  it('answers unknown routes with a problem+json 404 and a request id', async () => {
    const { app } = build();
    const res = await app.inject({ method: 'GET', url: '/nowhere?x=1' });
    expect(res.statusCode).to.equal(404);
    expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
    const body = res.json();
    expect(body).to.include({
      type: PROBLEM_BASE + 'not-found',
      status: 404,
      code: 'NOT_FOUND',
      instance: '/nowhere',
    });
    expect(body.requestId).to.equal(res.headers['x-request-id']);
  });

  it('keeps a well-formed caller request id and replaces a hostile one', async () => {
    const { app } = build();
    const ok = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(ok.headers['x-request-id']).to.equal('abc-123');
    const bad = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'a\u0000b<script>' },
    });
    expect(bad.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
  });

  it('answers malformed JSON with MALFORMED_JSON', async () => {
    const { app } = build();
    const res = await app.inject({
      method: 'POST',
      url: '/echo',
      payload: '{"a":',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).to.equal(400);
    expect(res.json().code).to.equal('MALFORMED_JSON');
  });

  it('answers an oversize body with PAYLOAD_TOO_LARGE', async () => {
    const { app } = build();
    const res = await app.inject({
      method: 'POST',
      url: '/echo',
      payload: JSON.stringify({ a: 'x'.repeat(2000) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).to.equal(413);
    expect(res.json().code).to.equal('PAYLOAD_TOO_LARGE');
  });

  it('answers an unsupported content type with UNSUPPORTED_MEDIA_TYPE', async () => {
    const { app } = build();
    const res = await app.inject({
      method: 'POST',
      url: '/echo',
      payload: '<a/>',
      headers: { 'content-type': 'application/xml' },
    });
    expect(res.statusCode).to.equal(415);
    expect(res.json().code).to.equal('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers schema violations with VALIDATION_FAILED listing each error', async () => {
    const { app } = build();
    const res = await app.inject({ method: 'POST', url: '/typed', payload: { n: 'one', extra: true } });
    expect(res.statusCode).to.equal(400);
    const body = res.json();
    expect(body.code).to.equal('VALIDATION_FAILED');
    expect(body.errors).to.be.an('array').with.length.greaterThan(0);
  });

  it('hides unexpected errors behind INTERNAL', async () => {
    const { app } = build();
    const res = await app.inject({ method: 'GET', url: '/boom' });
    expect(res.statusCode).to.equal(500);
    expect(res.json().code).to.equal('INTERNAL');
    expect(res.body).to.not.include('secret internals');
  });

  it('sends a problem’s headers, such as Retry-After', async () => {
    const { app } = build();
    const res = await app.inject({ method: 'GET', url: '/limited' });
    expect(res.statusCode).to.equal(429);
    expect(res.headers['retry-after']).to.equal('7');
  });

  it('reports readiness from dependency state and drains on shutdown', async () => {
    const { app, health } = build();
    health.register('kafka');
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).to.equal(503);
    health.up('kafka');
    const up = await app.inject({ method: 'GET', url: '/readyz' });
    expect(up.statusCode).to.equal(200);
    expect(up.json().dependencies.kafka.state).to.equal('up');
    health.down('kafka', new Error('broker gone'));
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).to.equal(503);
    expect(down.json().dependencies.kafka).to.include({ state: 'down', error: 'broker gone' });
    health.up('kafka');
    health.startDraining();
    const draining = await app.inject({ method: 'GET', url: '/readyz' });
    expect(draining.statusCode).to.equal(503);
    expect(draining.json().status).to.equal('draining');
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).to.equal(200);
  });

  it('exports RED metrics per route template, registered at zero before traffic', async () => {
    const { app } = build();
    await app.ready();
    const before = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(before).to.include('parley_http_requests_total{method="POST",route="/echo",status_class="5xx"} 0');
    await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
    const after = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(after).to.include('parley_http_requests_total{method="POST",route="/echo",status_class="2xx"} 1');
    expect(after).to.include(
      'parley_http_request_duration_seconds_bucket{le="0.001",method="POST",route="/echo"}',
    );
    expect(after).to.include('process_resident_memory_bytes');
  });

  it('serves the version', async () => {
    const { app } = build();
    expect((await app.inject({ method: 'GET', url: '/version' })).json()).to.deep.equal({
      service: 'test',
      version: '1.2.3',
    });
  });
});

describe('error catalogue', () => {
  it('has a stable upper-snake code, an HTTP error status, a title and a doc for every entry', () => {
    for (const [code, spec] of Object.entries(commonErrors)) {
      expect(code).to.match(/^[A-Z][A-Z0-9_]*$/);
      expect(spec.status).to.be.within(400, 599);
      expect(spec.title.length, code).to.be.greaterThan(3);
      expect(spec.doc.length, code).to.be.greaterThan(10);
    }
  });

  it('builds RFC 9457 problem documents', () => {
    const p = problems.FORBIDDEN('not an admin').toProblem('/v1/admin', 'req-1');
    expect(p).to.deep.equal({
      type: PROBLEM_BASE + 'forbidden',
      title: 'Not allowed',
      status: 403,
      code: 'FORBIDDEN',
      detail: 'not an admin',
      instance: '/v1/admin',
      requestId: 'req-1',
    });
  });
});
