import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import cors from 'cors';
import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import helmet from 'helmet';
import { trace } from '@opentelemetry/api';
import { ZodError } from 'zod';
import { ConfigError } from './config.ts';
import { PROBLEM_CONTENT_TYPE, ProblemError, problems } from './errors.ts';
import { checkJsonShape, JSON_LIMITS } from './jsonshape.ts';
import type { Logger } from './logger.ts';
import { primeHttpRoute, statusClass, type Metrics } from './metrics.ts';
import { RouteTable } from './routetable.ts';

export interface HttpAppOptions {
  logger: Logger;
  metrics: Metrics;
  /** Largest accepted body in bytes. */
  bodyLimit: number;
  /** Browser origins allowed by CORS; none when absent. */
  corsOrigins?: readonly string[] | undefined;
  trustProxy?: boolean;
  /** How long a client may take to send the request headers (upgrades included); 408 after. */
  headersTimeoutMs?: number;
  /** How long a client may take to send the whole request; 408 after. At least headersTimeoutMs. */
  requestTimeoutMs?: number;
}

declare module 'node:http' {
  interface IncomingMessage {
    /** The request id (a well-formed `X-Request-Id`, or a new UUID); echoed and on every log line. */
    id: string;
    /** A child logger carrying `reqId`. */
    log: Logger;
  }
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Express with Parley's conventions around it, and the Node server it runs on. */
export interface HttpApp {
  /** The Express application (settings, engines); add middleware with use(). */
  readonly express: Express;
  /**
   * Adds Express middleware that runs before every route, after request ids, logging, security
   * headers, CORS and the 405 check: a team's own auth headers, audit logging, and so on.
   */
  use(...handlers: RequestHandler[]): void;
  /** The Node server: WebSocket upgrades attach here. Not listening until listen(). */
  readonly server: Server;
  /**
   * Adds a route (Express path syntax, `/v1/users/:username`): listed for 405 answers, its RED
   * metrics registered at zero, its JSON body (if any) read within `bodyLimit` bytes.
   */
  route(
    method: HttpMethod,
    path: string,
    handler: RequestHandler,
    /**
     * `streamBody`: the handler reads the request stream itself (uploads); no JSON body is read.
     * `formBody`: a form-encoded body is read too, within the same limit, as an object of strings.
     */
    opts?: { bodyLimit?: number; streamBody?: boolean; formBody?: boolean },
  ): void;
  /** Runs before the server closes: drain what the server cannot (WebSockets). */
  beforeClose(fn: () => Promise<void>): void;
  /** Listens, answering the URL clients reach it at. */
  listen(host: string, port: number): Promise<string>;
  /** Runs the beforeClose hooks, stops accepting, and waits for in-flight requests. */
  close(): Promise<void>;
}

/**
 * Longest path segment routed, percent-encoded: a 64-character parameter (the longest any route
 * accepts) encodes to at most 768. Longer ones get 414 URI_TOO_LONG.
 */
export const MAX_PARAM_LENGTH = 1024;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * An Express 5 application with Parley's conventions: request ids, problem+json for every error,
 * security headers, CORS, JSON bodies within limits, 405 with Allow, RED metrics per route
 * template and a bare /healthz (readiness and metrics are on the management server). Does no I/O.
 */
export function createHttpApp(opts: HttpAppOptions): HttpApp {
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  const requestTimeout = opts.requestTimeoutMs ?? 30_000;
  // Node refuses a headers timeout above the request timeout; say which settings to change.
  if (headersTimeout > requestTimeout)
    throw new ConfigError(
      'http.headersTimeoutMs',
      'HTTP_HEADERS_TIMEOUT_MS',
      `must not exceed HTTP_REQUEST_TIMEOUT_MS (${headersTimeout} > ${requestTimeout})`,
    );
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.set('trust proxy', opts.trustProxy ?? false);

  const server = createServer({
    headersTimeout,
    requestTimeout,
    // Node checks these timeouts every connectionsCheckingInterval (30 s by default), which would
    // let a slow client hold its socket far beyond them.
    connectionsCheckingInterval: Math.min(1000, headersTimeout),
  });
  server.on('request', app);
  // Errors Node's HTTP parser answers before any request exists: problem+json too.
  server.on('clientError', (err: Error & { code?: string }, socket) => writeClientError(err, socket));

  // Request id, a child logger made only when something logs, RED metrics and one log line per
  // request (at debug; 5xx at error). Written here rather than with pino-http: its per-request
  // child logger and serializers tripled the framework's CPU per request (scripts/bench/rest.ts).
  const debug = opts.logger.isLevelEnabled('debug');
  app.use((req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    req.id = id;
    let log: Logger | undefined;
    Object.defineProperty(req, 'log', {
      get: () => (log ??= opts.logger.child({ reqId: id })),
      configurable: true,
    });
    res.setHeader('x-request-id', id);
    const started = process.hrtime.bigint();
    opts.metrics.http.inFlight.inc();
    res.once('close', () => {
      opts.metrics.http.inFlight.dec();
      const route = routeOf(req);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      opts.metrics.http.requests.labels(req.method, route, statusClass(res.statusCode)).inc();
      opts.metrics.http.duration.labels(req.method, route).observe(ms / 1000);
      const line = { method: req.method, route, status: res.statusCode, ms };
      if (res.statusCode >= 500) req.log.error(line, 'request failed');
      else if (debug) req.log.debug(line, 'request');
    });
    next();
  });
  // Security headers suited to a JSON API (no inline content is ever served).
  app.use(
    helmet({
      contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    }),
  );
  const allowed = new Set(opts.corsOrigins ?? []);
  app.use(
    cors({
      origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin)),
      credentials: false,
      maxAge: 600,
      exposedHeaders: ['x-request-id', 'retry-after'],
    }),
  );

  // OPTIONS that is not a CORS preflight from an allowed origin: 204 and nothing else, on any path
  // (Express would otherwise answer with an Allow header mixing templated and concrete routes).
  app.use((req, res, next) => (req.method === 'OPTIONS' ? void res.status(204).end() : next()));

  // An undeclared method on a known path is 405 with Allow, decided before auth and body parsing.
  const routeTable = new RouteTable();
  routeTable.add('OPTIONS', '*'); // the CORS middleware answers OPTIONS everywhere
  app.use((req, _res, next) => {
    const path = req.path;
    if (
      path.length > MAX_PARAM_LENGTH &&
      path.split('/').some((segment) => segment.length > MAX_PARAM_LENGTH)
    )
      return next(problems.URI_TOO_LONG(`a path segment is longer than ${MAX_PARAM_LENGTH} characters`));
    const known = routeTable.resolve(path);
    if (!known || known.allow.includes(req.method)) return next();
    next(
      problems.METHOD_NOT_ALLOWED(`${req.method} is not served here; use ${known.allow.join(', ')}`, {
        headers: { allow: known.allow.join(', ') },
      }),
    );
  });

  // Made on the first use(): an empty router still costs every request a pass through it.
  let pre: express.Router | undefined;
  app.use((req, res, next) => (pre ? pre(req, res, next) : next()));
  const router = express.Router();
  app.use(router);
  app.use((req, _res, next) =>
    next(problems.NOT_FOUND(`no route for ${req.method} ${req.originalUrl.split('?')[0]}`)),
  );
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) =>
    sendProblem(req, res, toProblemError(err, req)),
  );

  const closers: (() => Promise<void>)[] = [];
  const http: HttpApp = {
    express: app,
    server,
    use: (...handlers) => void (pre ??= express.Router()).use(...handlers),
    route(method, path, handler, routeOpts = {}) {
      routeTable.add(method, path);
      if (method === 'GET') routeTable.add('HEAD', path); // Express answers HEAD with the GET route
      primeHttpRoute(opts.metrics.http, method, path);
      const body =
        BODY_METHODS.has(method) && !routeOpts.streamBody
          ? [jsonBody(routeOpts.bodyLimit ?? opts.bodyLimit, routeOpts.formBody ?? false)]
          : [];
      const name = `${method} ${path}`;
      router[method.toLowerCase() as Lowercase<HttpMethod>](path, nameSpan(name, path), ...body, handler);
    },
    beforeClose(fn) {
      closers.push(fn);
    },
    async listen(host, port) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return urlOf(server, host);
    },
    async close() {
      for (const fn of closers) await fn();
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
    },
  };
  // A bare liveness answer for load balancers; readiness, metrics and the version are served on
  // the management port only (management.ts), which the ingress never reaches.
  http.route('GET', '/healthz', (_req, res) => void res.json({ status: 'ok' }));
  return http;
}

/** Names the HTTP server span after the route template (the HTTP instrumentation sees only the path). */
function nameSpan(name: string, route: string): RequestHandler {
  return (_req, _res, next) => {
    const span = trace.getActiveSpan();
    if (span?.isRecording()) {
      span.updateName(name);
      span.setAttribute('http.route', route);
    }
    next();
  };
}

/** The URL a listening server is reached at (loopback for a wildcard address). */
export function urlOf(server: Server, host: string): string {
  const addr = server.address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${addr.port}`;
}

/** The route template a request matched (`/v1/users/:username`), or `unmatched`. */
function routeOf(req: IncomingMessage): string {
  const r = req as Request;
  return r.route ? `${r.baseUrl ?? ''}${String(r.route.path)}` : 'unmatched';
}

/**
 * Reads a JSON body within `limit` bytes. The shape limits are checked on the raw text before it
 * is parsed; `__proto__` and `constructor.prototype` keys are refused (prototype poisoning).
 */
function jsonBody(limit: number, forms: boolean): RequestHandler {
  const text = express.text({ type: () => true, limit, defaultCharset: 'utf-8' });
  return (req, res, next) => {
    if (forms && isForm(req.headers['content-type'])) return formBody(text, req, res, next);
    const length = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (!chunked && (length === undefined || length === '0')) {
      if (isJson(req.headers['content-type']) && length === '0')
        return next(problems.MALFORMED_JSON("body cannot be empty when content-type is 'application/json'"));
      return next();
    }
    if (!isJson(req.headers['content-type']))
      return next(
        problems.UNSUPPORTED_MEDIA_TYPE(`unsupported media type ${req.headers['content-type'] ?? '(none)'}`),
      );
    text(req, res, (err?: unknown) => {
      if (err) return next(bodyProblem(err));
      const raw = typeof req.body === 'string' ? req.body : '';
      if (raw === '')
        return next(problems.MALFORMED_JSON("body cannot be empty when content-type is 'application/json'"));
      const shape = checkJsonShape(raw);
      if (shape) return next(problems.MALFORMED_JSON(shape.message));
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch (e) {
        return next(problems.MALFORMED_JSON((e as Error).message));
      }
      if (poisoned(parsed))
        return next(problems.MALFORMED_JSON('object contains forbidden prototype property'));
      req.body = parsed;
      next();
    });
  };
}

/**
 * Reads a form-encoded body (RFC 8058 one-click unsubscribe: what mail providers POST) into an
 * object of strings, a repeated field into an array; more fields than a JSON body may have keys
 * are refused, as are prototype keys.
 */
function formBody(text: RequestHandler, req: Request, res: Response, next: NextFunction): void {
  text(req, res, (err?: unknown) => {
    if (err) return next(bodyProblem(err));
    const params = new URLSearchParams(typeof req.body === 'string' ? req.body : '');
    const out: Record<string, string | string[]> = {};
    let n = 0;
    for (const [k, v] of params) {
      if (++n > JSON_LIMITS.maxKeys)
        return next(problems.MALFORMED_JSON(`form has more than ${JSON_LIMITS.maxKeys} fields`));
      if (k === '__proto__' || k === 'constructor' || k === 'prototype')
        return next(problems.MALFORMED_JSON('form contains a forbidden prototype field'));
      const had = out[k];
      out[k] = had === undefined ? v : [...[had].flat(), v];
    }
    req.body = out;
    next();
  });
}

function isForm(type: string | undefined): boolean {
  return type?.split(';')[0]!.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

function isJson(type: string | undefined): boolean {
  if (!type) return false;
  const media = type.split(';')[0]!.trim().toLowerCase();
  return media === 'application/json';
}

/** Whether a parsed body has a `__proto__` key, or a `constructor` with a `prototype` (walked iteratively). */
function poisoned(value: unknown): boolean {
  const stack = [value];
  for (let v = stack.pop(); v !== undefined; v = stack.pop()) {
    if (typeof v !== 'object' || v === null) continue;
    if (Object.prototype.hasOwnProperty.call(v, '__proto__')) return true;
    const ctor = (v as Record<string, unknown>).constructor;
    if (
      Object.prototype.hasOwnProperty.call(v, 'constructor') &&
      typeof ctor === 'object' &&
      ctor !== null &&
      Object.prototype.hasOwnProperty.call(ctor, 'prototype')
    )
      return true;
    for (const child of Object.values(v)) stack.push(child);
  }
  return false;
}

/** What body-parser refused, as a catalogued problem. */
function bodyProblem(err: unknown): ProblemError {
  const e = err as { type?: string; message?: string };
  switch (e.type) {
    case 'entity.too.large':
      return problems.PAYLOAD_TOO_LARGE('request body is too large');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return problems.UNSUPPORTED_MEDIA_TYPE(e.message);
    default:
      return problems.MALFORMED_REQUEST(e.message);
  }
}

/** Maps zod's, body-parser's and our own errors to a catalogued problem. Unknown errors become INTERNAL. */
export function toProblemError(err: unknown, req: Request): ProblemError {
  if (err instanceof ProblemError) return err;
  if (err instanceof ZodError) {
    return problems.VALIDATION_FAILED(
      err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '),
      {
        extensions: { errors: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
      },
    );
  }
  const e = err as { status?: number; statusCode?: number; type?: string; message?: string };
  const status = e.status ?? e.statusCode;
  // Errors Express itself raises for a bad request, such as a malformed percent-encoding.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 413) return problems.PAYLOAD_TOO_LARGE(e.message);
    if (status === 415) return problems.UNSUPPORTED_MEDIA_TYPE(e.message);
    return problems.VALIDATION_FAILED(e.message);
  }
  req.log.error({ err }, 'unhandled error');
  return problems.INTERNAL('see logs for request id ' + String(req.id));
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

/** Writes a problem+json answer (with the problem's headers, such as Retry-After or Allow). */
export function sendProblem(req: Request, res: Response, p: ProblemError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [k, v] of Object.entries(p.headers)) res.setHeader(k, v);
  res
    .status(p.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(p.toProblem(req.originalUrl.split('?')[0], String(req.id))));
}
