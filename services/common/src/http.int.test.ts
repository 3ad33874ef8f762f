import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import { z } from 'zod';
import { ConfigError } from './config.ts';
import { PROBLEM_BASE, problems } from './errors.ts';
import { createHttpApp, type HttpApp, type HttpAppOptions } from './http.ts';
import { inject, type InjectRequest } from './inject.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { MAX_PARAM_LENGTH } from './http.ts';

const logger = createLogger({ level: 'silent', name: 'test' });
const open: HttpApp[] = [];
after(() => Promise.all(open.splice(0).map((h) => h.close())));

/** An app with test routes; inject() listens on a free loopback port on first use. */
function build(extra: Partial<HttpAppOptions> = {}) {
  const http = createHttpApp({ logger, metrics: createMetrics(), bodyLimit: 1024, ...extra });
  http.route('POST', '/echo', (req, res) => void res.json(req.body));
  http.route('POST', '/form', (req, res) => void res.json(req.body), { formBody: true });
  http.route('GET', '/things/:id', (req, res) => void res.json({ ...req.params }));
  http.route('DELETE', '/things/:id', (_req, res) => void res.json({}));
  http.route('PUT', '/things/mine', (_req, res) => void res.json({}));
  http.route('GET', '/boom', async () => {
    throw new Error('secret internals');
  });
  http.route('GET', '/limited', async () => {
    throw problems.RATE_LIMITED('slow down', { headers: { 'retry-after': '7' } });
  });
  const Typed = z.strictObject({ n: z.number().int() });
  http.route('POST', '/typed', (req, res) => void res.json(Typed.parse(req.body)));
  let base: Promise<string> | undefined;
  const app = {
    inject: async (req: InjectRequest) => {
      if (!base) {
        open.push(http);
        base = http.listen('127.0.0.1', 0);
      }
      return inject(await base, req);
    },
  };
  return { app, http };
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

  it('reads a form-encoded body only where a route takes one (RFC 8058 one-click), within the limits', async () => {
    const { app } = build();
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const post = (url: string, payload: string, headers: Record<string, string> = form) =>
      app.inject({ method: 'POST', url, headers, payload });
    const ok = await post('/form', 'List-Unsubscribe=One-Click&a=1&a=2&e=%C3%A9');
    expect(ok.json()).to.deep.equal({ 'List-Unsubscribe': 'One-Click', a: ['1', '2'], e: 'é' });
    // The same route still takes JSON; other routes refuse forms.
    expect((await post('/form', '{"x":1}', { 'content-type': 'application/json' })).json()).to.deep.equal({
      x: 1,
    });
    const refused = await post('/echo', 'a=1');
    expect([refused.statusCode, refused.json().code]).to.deep.equal([415, 'UNSUPPORTED_MEDIA_TYPE']);
    const big = await post('/form', `a=${'x'.repeat(2000)}`);
    expect([big.statusCode, big.json().code]).to.deep.equal([413, 'PAYLOAD_TOO_LARGE']);
    const proto = await post('/form', 'a=1&__proto__=x');
    expect([proto.statusCode, proto.json().code]).to.deep.equal([400, 'MALFORMED_JSON']);
    const roomy = build({ bodyLimit: 64 * 1024 }).app;
    const many = await roomy.inject({
      method: 'POST',
      url: '/form',
      headers: form,
      payload: Array.from({ length: 2049 }, (_, i) => `k${i}=`).join('&'),
    });
    expect([many.statusCode, many.json().detail]).to.deep.equal([400, 'form has more than 2048 fields']);
  });

  it("runs a team's own Express middleware before every route, after the request id", async () => {
    const { app, http } = build();
    const seen: string[] = [];
    http.use((req, res, next) => {
      seen.push(String(req.id));
      if (req.headers['x-team-block']) return void res.status(418).json({ team: 'blocked' });
      res.setHeader('x-team', 'audited');
      next();
    });
    const ok = await app.inject({ method: 'POST', url: '/echo', payload: { a: 1 } });
    expect([ok.statusCode, ok.headers['x-team'], ok.json()]).to.deep.equal([200, 'audited', { a: 1 }]);
    expect(seen).to.deep.equal([ok.headers['x-request-id']]);
    const blocked = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-team-block': '1' } });
    expect([blocked.statusCode, blocked.json()]).to.deep.equal([418, { team: 'blocked' }]);
  });

  it('keeps a well-formed caller request id and replaces a hostile one', async () => {
    const { app } = build();
    const ok = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(ok.headers['x-request-id']).to.equal('abc-123');
    const bad = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'a b<script>"' },
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

  it('writes the request id once per log line', async () => {
    const lines: string[] = [];
    const captured = createLogger({ level: 'debug', name: 'test' }, { write: (l: string) => lines.push(l) });
    const { app } = build({ logger: captured });
    await app.inject({ method: 'GET', url: '/boom', headers: { 'x-request-id': 'req-once' } });
    const mine = lines.filter((l) => l.includes('req-once'));
    expect(mine.length, lines.join('')).to.be.greaterThan(1);
    for (const l of mine) expect(l.match(/"reqId"/g), l).to.have.length(1);
  });

  it('answers a body nested beyond the depth limit, or with a flood of keys, with MALFORMED_JSON', async () => {
    const { app } = build({ bodyLimit: 64 * 1024 });
    const deep = `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    const flood = `{${Array.from({ length: 3000 }, (_, i) => `"k${i}":1`).join(',')}}`;
    for (const [payload, detail] of [
      [deep, 'JSON nests deeper than 32 levels'],
      [flood, 'JSON has more than 2048 object keys'],
    ]) {
      const res = await app.inject({
        method: 'POST',
        url: '/echo',
        payload,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode).to.equal(400);
      expect(res.json()).to.include({ code: 'MALFORMED_JSON', detail });
    }
  });

  it('still refuses prototype poisoning behind the shape check', async () => {
    const { app } = build();
    const res = await app.inject({
      method: 'POST',
      url: '/echo',
      payload: '{"__proto__":{"admin":true}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.statusCode).to.equal(400);
    expect(({} as Record<string, unknown>).admin).to.equal(undefined);
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

  it('serves a bare /healthz and no operational endpoint on the public port', async () => {
    const { app } = build();
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    expect(health.json()).to.deep.equal({ status: 'ok' });
    for (const url of ['/readyz', '/metrics', '/version'])
      expect((await app.inject({ method: 'GET', url })).statusCode, url).to.equal(404);
  });
});

describe('HTTP methods and oversize requests', () => {
  it('answers an undeclared method on a known path with 405 and Allow, before auth or body parsing', async () => {
    const { app } = build();
    for (const method of ['PATCH', 'PUT', 'QUERY'] as const) {
      const res = await app.inject({ method, url: '/things/42?x=1' });
      expect(res.statusCode, method).to.equal(405);
      expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(res.headers.allow).to.equal('DELETE, GET, HEAD, OPTIONS');
      expect(res.json()).to.include({ code: 'METHOD_NOT_ALLOWED', instance: '/things/42' });
    }
    const post = await app.inject({ method: 'GET', url: '/echo' });
    expect([post.statusCode, post.headers.allow]).to.deep.equal([405, 'OPTIONS, POST']);
    // A concrete path is not the template's parameter (as in OpenAPI): GET /things/mine is 405.
    const mine = await app.inject({ method: 'GET', url: '/things/mine' });
    expect([mine.statusCode, mine.headers.allow]).to.deep.equal([405, 'OPTIONS, PUT']);
  });

  it('keeps 404 for unknown paths and serves HEAD and CORS preflight as before', async () => {
    const { app } = build({ corsOrigins: ['https://app.example'] });
    const unknown = await app.inject({ method: 'PUT', url: '/things/42/more' });
    expect([unknown.statusCode, unknown.json().code]).to.deep.equal([404, 'NOT_FOUND']);
    expect((await app.inject({ method: 'HEAD', url: '/things/42' })).statusCode).to.equal(200);
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/things/42',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'DELETE' },
    });
    expect(preflight.statusCode).to.equal(204);
    expect(preflight.headers['access-control-allow-origin']).to.equal('https://app.example');
    // Not a preflight (no Origin), or from an origin not allowed: 204 with no CORS and no Allow.
    const variants: Record<string, string>[] = [
      {},
      { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
    ];
    for (const headers of variants) {
      const plain = await app.inject({ method: 'OPTIONS', url: '/things/mine', headers });
      expect([
        plain.statusCode,
        plain.headers.allow,
        plain.headers['access-control-allow-origin'],
      ]).to.deep.equal([204, undefined, undefined]);
    }
  });

  it('answers an over-long path segment with 414 URI_TOO_LONG', async () => {
    const { app } = build();
    const ok = await app.inject({ method: 'GET', url: '/things/' + '%F0%9F%91%8D'.repeat(64) });
    expect(ok.statusCode).to.equal(200);
    const res = await app.inject({ method: 'GET', url: '/things/' + 'x'.repeat(MAX_PARAM_LENGTH + 1) });
    expect(res.statusCode).to.equal(414);
    expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(res.json().code).to.equal('URI_TOO_LONG');
  });
});

/** Sends raw bytes to a listening app and collects what comes back until the server closes. */
async function raw(url: string, data: string, opts: { keepOpenMs?: number } = {}) {
  const { port } = new URL(url);
  const socket: Socket = connect(Number(port), '127.0.0.1');
  let received = '';
  socket.on('data', (d) => (received += d.toString()));
  const closed = new Promise<number>((resolve) => {
    const started = Date.now();
    socket.on('close', () => resolve(Date.now() - started));
  });
  socket.write(data);
  if (opts.keepOpenMs === undefined) return { closedAfterMs: await closed, received: () => received };
  const outcome = await Promise.race([
    closed,
    new Promise<'open'>((r) => setTimeout(() => r('open'), opts.keepOpenMs)),
  ]);
  socket.destroy();
  return { closedAfterMs: outcome, received: () => received };
}

function problemOf(response: string): { status: number; type: string; body: Record<string, unknown> } {
  const [head, body] = response.split('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head!)?.[1]),
    type: /content-type: ([^\r]+)/i.exec(head!)?.[1] ?? '',
    body: JSON.parse(body!) as Record<string, unknown>,
  };
}

describe('HTTP server limits (real sockets)', () => {
  let http: HttpApp;
  let url: string;
  beforeEach(async () => {
    http = build({ headersTimeoutMs: 300, requestTimeoutMs: 600 }).http;
    url = await http.listen('127.0.0.1', 0);
  });
  afterEach(() => http.close());

  it('disconnects a client that sends headers too slowly with 408 REQUEST_TIMEOUT', async () => {
    const r = await raw(url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
    // headersTimeout (300 ms) plus at most one check interval (300 ms), with slack for a busy box.
    expect(r.closedAfterMs).to.be.within(250, 2000);
    const p = problemOf(r.received());
    expect([p.status, p.type, p.body.code]).to.deep.equal([
      408,
      'application/problem+json',
      'REQUEST_TIMEOUT',
    ]);
  });

  it('answers oversized headers with 431 HEADERS_TOO_LARGE and malformed HTTP with 400 MALFORMED_REQUEST', async () => {
    const big = await raw(url, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const p = problemOf(big.received());
    expect([p.status, p.type, p.body.code]).to.deep.equal([
      431,
      'application/problem+json',
      'HEADERS_TOO_LARGE',
    ]);
    const bad = problemOf((await raw(url, 'GET /healthz HTTP/9\r\n\r\n')).received());
    expect([bad.status, bad.body.code]).to.deep.equal([400, 'MALFORMED_REQUEST']);
  });

  it('leaves an upgraded connection (WebSocket) open past the request timeout', async () => {
    const upgraded: Socket[] = [];
    http.server.on('upgrade', (_req, socket: Socket) => {
      upgraded.push(socket);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
    });
    // Longer than requestTimeout (600 ms) plus a check interval (300 ms): waiting for nothing to happen.
    const r = await raw(url, 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n', {
      keepOpenMs: 1500,
    });
    for (const s of upgraded) s.destroy();
    expect(r.closedAfterMs).to.equal('open');
    expect(r.received()).to.match(/^HTTP\/1\.1 101/);
  });

  it('refuses a headers timeout above the request timeout, naming the setting', () => {
    expect(() => build({ headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 }))
      .to.throw(ConfigError)
      .with.property(
        'message',
        'in http.headersTimeoutMs (HTTP_HEADERS_TIMEOUT_MS): must not exceed HTTP_REQUEST_TIMEOUT_MS (20000 > 10000)',
      );
  });
});
