import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE, problems, type ProblemError } from './errors.ts';
import type { Health } from './health.ts';
import { urlOf } from './http.ts';
import type { Metrics } from './metrics.ts';

export interface ManagementOptions {
  health: Health;
  metrics: Metrics;
  version: { service: string; version: string; commit?: string | undefined };
}

/**
 * The operational endpoints, on their own port: `/healthz` (liveness), `/readyz` (readiness with
 * each dependency's state), `/metrics` (Prometheus) and `/version`. The Service exposes this port
 * to the kubelet and Prometheus only; the Ingress never routes to it, so what they reveal
 * (dependency states, per-route counts, versions) is not public. The public port keeps a bare
 * `/healthz`. Plain `node:http`: four read-only routes need no framework.
 */
export function createManagementServer(opts: ManagementOptions): Server {
  return createServer((req, res) => {
    void answer(req, res, opts).catch(() => {
      if (!res.headersSent) problem(res, problems.INTERNAL());
      else res.destroy();
    });
  });
}

const ROUTES = ['/healthz', '/readyz', '/metrics', '/version'];

async function answer(req: IncomingMessage, res: ServerResponse, opts: ManagementOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (!ROUTES.includes(path)) return problem(res, problems.NOT_FOUND(`no route for ${path}`));
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return problem(res, problems.METHOD_NOT_ALLOWED(`${req.method} is not served here; use GET, HEAD`));
  }
  switch (path) {
    case '/healthz':
      return json(res, 200, { status: 'ok' });
    case '/readyz': {
      const r = opts.health.readiness();
      const status = r.ready ? 'ok' : r.draining ? 'draining' : 'unavailable';
      return json(res, r.ready ? 200 : 503, { status, dependencies: r.dependencies });
    }
    case '/metrics': {
      const text = await opts.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': opts.metrics.registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : text);
      return;
    }
    default:
      return json(res, 200, opts.version);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function problem(res: ServerResponse, p: ProblemError): void {
  res.writeHead(p.status, { 'content-type': PROBLEM_CONTENT_TYPE });
  res.end(JSON.stringify(p.toProblem()));
}

/** Listens and answers the URL clients reach it at. */
export async function listenManagement(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return urlOf(server, host);
}
