import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import { ZodError } from 'zod';
import { ConfigError } from './config.ts';
import { checkJsonShape } from './jsonshape.ts';
import { PROBLEM_CONTENT_TYPE, ProblemError, problems } from './errors.ts';
import type { Health } from './health.ts';
import type { Logger } from './logger.ts';
import { primeHttpRoute, statusClass, type Metrics } from './metrics.ts';
import { RouteTable } from './routetable.ts';

export interface HttpAppOptions {
  logger: Logger;
  metrics: Metrics;
  health: Health;
  /** Largest accepted body in bytes. */
  bodyLimit: number;
  version: { service: string; version: string; commit?: string | undefined };
  /** Browser origins allowed by CORS; none when absent. */
  corsOrigins?: readonly string[] | undefined;
  trustProxy?: boolean;
  /** How long a client may take to send the request headers (upgrades included); 408 after. */
  headersTimeoutMs?: number;
  /** How long a client may take to send the whole request; 408 after. At least headersTimeoutMs. */
  requestTimeoutMs?: number;
}

/**
 * Longest path segment routed, percent-encoded: a 64-character parameter (the longest any route
 * accepts) encodes to at most 768. Longer ones get 414 URI_TOO_LONG.
 */
export const MAX_PARAM_LENGTH = 1024;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * A Fastify instance with Parley's conventions: request ids, problem+json for every error,
 * RED metrics per route template, /healthz, /readyz, /metrics and /version. Does no I/O.
 */
export function createHttpApp(opts: HttpAppOptions): FastifyInstance {
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  // Node refuses a headers timeout above the request timeout; say which settings to change.
  if (headersTimeout > requestTimeout)
    throw new ConfigError(
      'http.headersTimeoutMs',
      'HTTP_HEADERS_TIMEOUT_MS',
      `must not exceed HTTP_REQUEST_TIMEOUT_MS (${headersTimeout} > ${requestTimeout})`,
    );
  const app = Fastify({
    // Node checks these timeouts every connectionsCheckingInterval (30 s by default), which would
    // let a slow client hold its socket far beyond them.
    http: { headersTimeout, requestTimeout, connectionsCheckingInterval: Math.min(1000, headersTimeout) },
    requestTimeout,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors Node's HTTP parser and Fastify's router answer before any route: problem+json too.
    clientErrorHandler: (err, socket) => writeClientError(err, socket),
    frameworkErrors: (err, req, reply) =>
      sendProblem(
        req,
        reply,
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? problems.URI_TOO_LONG(err.message)
          : err.code === 'FST_ERR_BAD_URL'
            ? problems.VALIDATION_FAILED(err.message)
            : toProblemError(err, req),
      ),
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: opts.bodyLimit,
    // Our onResponse hook logs one line per request with the route template instead.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    trustProxy: opts.trustProxy ?? false,
  });

  // Security headers suited to a JSON API (no inline content is ever served).
  void app.register(helmet, {
    global: true,
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  });
  const allowed = new Set(opts.corsOrigins ?? []);
  void app.register(cors, {
    origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin)),
    credentials: false,
    maxAge: 600,
    exposedHeaders: ['x-request-id', 'retry-after'],
  });

  // Fastify's parser (prototype-poisoning checks included), behind the shape limits: a deeply
  // nested body would overflow every recursive walk after it.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = String(body);
    const shape = checkJsonShape(text);
    if (shape) return done(problems.MALFORMED_JSON(shape.message), undefined);
    parseJson(req, text, done);
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    opts.metrics.http.inFlight.inc();
  });

  app.addHook('onResponse', async (req, reply) => {
    opts.metrics.http.inFlight.dec();
    const route = req.routeOptions.url ?? 'unmatched';
    const elapsed = reply.elapsedTime / 1000;
    opts.metrics.http.requests.labels(req.method, route, statusClass(reply.statusCode)).inc();
    opts.metrics.http.duration.labels(req.method, route).observe(elapsed);
    const line = {
      method: req.method,
      route,
      status: reply.statusCode,
      ms: reply.elapsedTime,
    };
    if (reply.statusCode >= 500) req.log.error(line, 'request failed');
    else req.log.debug(line, 'request');
  });

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) if (m !== 'HEAD') primeHttpRoute(opts.metrics.http, m, route.url);
  });

  // An undeclared method on a known path is 405 with Allow, decided before auth and body parsing.
  const routeTable = new RouteTable();
  app.addHook('onRoute', (route) => {
    for (const m of Array.isArray(route.method) ? route.method : [route.method]) routeTable.add(m, route.url);
  });
  app.addHook('onRequest', async (req) => {
    // Only a 404, or a request the router gave to a templated route, can lack its method.
    if (!req.is404 && !req.routeOptions.url?.includes(':')) return;
    const path = routeTable.resolve(req.url.split('?')[0]!);
    if (!path || (!req.is404 && path.url === req.routeOptions.url)) return;
    throw problems.METHOD_NOT_ALLOWED(`${req.method} is not served here; use ${path.allow.join(', ')}`, {
      headers: { allow: path.allow.join(', ') },
    });
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) =>
    sendProblem(req, reply, toProblemError(err, req)),
  );
  app.setNotFoundHandler((req, reply) =>
    sendProblem(req, reply, problems.NOT_FOUND(`no route for ${req.method} ${req.url.split('?')[0]}`)),
  );

  // A bare liveness answer for load balancers; readiness, metrics and the version are served on
  // the management port only (management.ts), which the ingress never reaches.
  app.get('/healthz', async () => ({ status: 'ok' }));

  return app as unknown as FastifyInstance;
}

/** Maps Fastify's, zod's and our own errors to a catalogued problem. Unknown errors become INTERNAL. */
export function toProblemError(err: FastifyError | Error, req: FastifyRequest): ProblemError {
  if (err instanceof ProblemError) return err;
  if (err instanceof ZodError) {
    return problems.VALIDATION_FAILED(
      err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
      {
        extensions: { errors: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
      },
    );
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    return problems.VALIDATION_FAILED(fe.message, {
      extensions: {
        errors: fe.validation.map((v) => ({
          path: `${fe.validationContext ?? ''}${v.instancePath}`,
          message: v.message,
        })),
      },
    });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problems.MALFORMED_JSON(fe.message);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problems.PAYLOAD_TOO_LARGE(fe.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problems.UNSUPPORTED_MEDIA_TYPE(fe.message);
  }
  if (err instanceof SyntaxError && fe.statusCode === 400) return problems.MALFORMED_JSON(err.message);
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    if (fe.statusCode === 413) return problems.PAYLOAD_TOO_LARGE(fe.message);
    if (fe.statusCode === 415) return problems.UNSUPPORTED_MEDIA_TYPE(fe.message);
    return problems.VALIDATION_FAILED(fe.message);
  }
  req.log.error({ err }, 'unhandled error');
  return problems.INTERNAL('see logs for request id ' + req.id);
}

/** Answers what Node's HTTP parser refused (no request exists yet), then closes the connection. */
function writeClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const p =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? problems.HEADERS_TOO_LARGE()
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? problems.REQUEST_TIMEOUT()
        : problems.MALFORMED_REQUEST(err.code);
  const requestId = randomUUID();
  const body = JSON.stringify(p.toProblem(undefined, requestId));
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${p.status} ${STATUS_CODES[p.status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy();
}

function sendProblem(req: FastifyRequest, reply: FastifyReply, p: ProblemError): FastifyReply {
  for (const [k, v] of Object.entries(p.headers)) reply.header(k, v);
  return reply
    .code(p.status)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .send(p.toProblem(req.url.split('?')[0], req.id));
}
