import type { RequestHandler, Response } from 'express';
import { Api, bearerToken, type Principal } from './api.ts';
import { RateLimiter, tooMany } from './ratelimit.ts';
import { ConfigError, type Infer, type Spec } from './config.ts';
import { connectDependencies, type CommonConfig, type Connected, type Dependencies } from './dependencies.ts';
import { problems } from './errors.ts';
import type { DocumentStore } from './docstore/port.ts';
import type { Health } from './health.ts';
import { createHttpApp, type HttpApp } from './http.ts';
import { retryForever, type BackoffPolicy } from './retry.ts';
import { inject, type InjectRequest, type InjectResponse } from './inject.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { exitOnStartupFailure, startProcess } from './process.ts';
import { tracedEventLog } from './eventlog/traced.ts';
import { trace, traceparentOf, tracingEnabled, context } from './tracing.ts';

export interface ModuleContext<C> {
  cfg: C;
  /** Routes defined here are validated with zod and listed in /v1/openapi.json. */
  api: Api;
  /** Installs how bearer tokens are verified (the auth module locally, others via JWKS). */
  setAuthenticator(fn: (token: string) => Promise<Principal>): void;
  hasAuthenticator(): boolean;
  /** Verifies a bearer token with the installed authenticator (HTTP requests and WebSocket auth). */
  authenticateToken(token: string): Promise<Principal>;
  logger: Logger;
  metrics: Metrics;
  health: Health;
  /** The adapters, or 503 UNAVAILABLE while they are still connecting. */
  deps: () => Dependencies;
}

/**
 * A unit of Parley that one process may host alone (in Kubernetes) or beside others (embedded
 * mode): the auth service, the message api, the message worker.
 */
export interface ServiceModule<C> {
  name: string;
  /** Adds HTTP routes; runs before the server listens, does no I/O. */
  routes?(http: HttpApp, ctx: ModuleContext<C>): void | Promise<void>;
  /**
   * Starts background work once dependencies are connected; returns how to stop it (drain). A
   * start that throws must release what it acquired: it is retried with backoff until it succeeds.
   */
  start?(ctx: ModuleContext<C>): Promise<() => Promise<void>>;
}

/** Retries of a module start: quick at first, then every 30 s at most. */
const MODULE_RETRY: BackoffPolicy = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 };

export interface RunOptions<S extends Spec> {
  /** Process name in logs and metrics (parley-auth, parley-message, parley). */
  name: string;
  spec: S;
  modules: (cfg: Infer<S>) => ServiceModule<Infer<S>>[];
  env?: NodeJS.ProcessEnv;
  /** Wire SIGTERM/SIGINT to shutdown then exit (main.ts only; tests call stop()). */
  handleSignals?: boolean;
}

export interface Running {
  http: HttpApp;
  /** The route definitions behind /v1/openapi.json (contract tests walk them). */
  api: Api;
  url: string;
  /** The management server: /healthz, /readyz, /metrics, /version. */
  managementUrl: string;
  /** One request to the running server, for tests (a real connection). */
  inject(req: InjectRequest): Promise<InjectResponse>;
  /** Resolves once every dependency is connected and every module started. */
  ready: Promise<void>;
  /** The connected adapters (tests and tooling; throws while connecting). */
  deps(): Dependencies;
  stop(reason?: string): Promise<boolean>;
}

/**
 * Boots a process: config (throws ConfigError naming the bad setting), logging, metrics, tracing,
 * HTTP with health routes, dependencies (retried with backoff), modules, and ordered shutdown.
 */
export async function runService<S extends Spec & { [K in keyof CommonConfig]: unknown }>(
  opts: RunOptions<S>,
): Promise<Running> {
  const proc = await startProcess({
    name: opts.name,
    spec: opts.spec,
    env: opts.env,
    check: (c) => {
      const m = (c as unknown as CommonConfig).management;
      const h = (c as unknown as CommonConfig).http;
      if (m.port !== 0 && m.port === h.port)
        throw new ConfigError('management.port', 'MANAGEMENT_PORT', `must differ from PORT (${h.port})`);
    },
  });
  const { cfg, logger, metrics, health, shutdown, management } = proc;
  const common = cfg as unknown as CommonConfig;
  const abort = new AbortController();

  let connected: Connected | undefined;
  const http = createHttpApp({
    logger,
    metrics,
    bodyLimit: common.http.bodyLimitBytes,
    headersTimeoutMs: common.http.headersTimeoutMs,
    requestTimeoutMs: common.http.requestTimeoutMs,
    corsOrigins: common.cors.origins,
    trustProxy: common.trustProxy,
  });
  if (tracingEnabled()) traceResponses(http);
  // Embedded SQLite commits a turn's writes together (GroupCommit): a response waits for that
  // commit, so no client is told of a write a crash could still take back.
  if (!common.mongo.url) http.use(durableResponses(() => connected?.deps.store));
  let authenticator: ((token: string) => Promise<Principal>) | undefined;
  let limiter: RateLimiter | undefined;
  const perMinute = { max: common.rateLimit.perMinute, windowMs: 60_000 };
  const api = new Api(http, {
    catalogue: {},
    authenticate: async (req) => {
      const token = bearerToken(req);
      if (!token) throw problems.UNAUTHENTICATED('send Authorization: Bearer <access token>');
      if (!authenticator) throw problems.UNAVAILABLE('token verification is not configured');
      return authenticator(token);
    },
    beforeHandler: async (req, principal) => {
      if (!connected) throw problems.UNAVAILABLE('dependencies are still connecting');
      limiter ??= new RateLimiter(connected.deps.cachePubSub);
      const key = principal ? `general:user:${principal.userId}` : `general:ip:${req.ip}`;
      const r = await limiter.hit(key, perMinute);
      if (!r.allowed) throw tooMany('request rate limit reached', r.retryAfterSec);
    },
  });
  const ctx: ModuleContext<Infer<S>> = {
    cfg,
    api,
    setAuthenticator: (fn) => {
      authenticator = fn;
    },
    hasAuthenticator: () => authenticator !== undefined,
    authenticateToken: async (token) => {
      if (!authenticator) throw problems.UNAVAILABLE('token verification is not configured');
      return authenticator(token);
    },
    logger,
    metrics,
    health,
    deps: () => {
      if (!connected) throw problems.UNAVAILABLE('dependencies are still connecting');
      return connected.deps;
    },
  };

  const modules = opts.modules(cfg);
  for (const m of modules) await m.routes?.(http, { ...ctx, logger: logger.child({ module: m.name }) });
  const openapi = api.openapi({
    title: `Parley API (${opts.name})`,
    version: proc.version.version,
    description: 'REST API of Parley. Errors are RFC 9457 problem+json with a stable `code`.',
  });
  http.route('GET', '/v1/openapi.json', (_req, res) => void res.json(openapi));
  const managementUrl = await proc.listenManagement();
  const url = await http.listen(common.http.host, common.http.port).catch(async (err: unknown) => {
    management.close();
    throw err;
  });
  logger.info({ url, managementUrl }, 'listening');

  if (opts.handleSignals) shutdown.installSignalHandlers();
  const stoppers: (() => Promise<void>)[] = [];
  // Readiness also waits for every module to start (consumers joined, gateway accepting).
  health.register('modules');
  const ready = (async () => {
    connected = await connectDependencies({
      cfg: common,
      component: opts.name,
      logger,
      health,
      signal: abort.signal,
      eventLogMetrics: metrics.eventlog,
    });
    // Trace context rides in record headers, so the worker and the fan-out join the sender's trace.
    if (tracingEnabled())
      connected = {
        ...connected,
        deps: { ...connected.deps, events: tracedEventLog(connected.deps.events) },
      };
    // A module that cannot start yet (Kafka down while a pod restarts, say) is retried with
    // backoff: the process stays up and unready instead of exiting and dropping its sockets (#21).
    for (const m of modules) {
      if (!m.start) continue;
      const mctx = { ...ctx, logger: logger.child({ module: m.name }) };
      stoppers.push(
        await retryForever(() => m.start!(mctx), {
          signal: abort.signal,
          policy: MODULE_RETRY,
          onFailure: (err, attempt) => {
            health.down('modules', err);
            if (attempt === 0 || attempt % 10 === 0)
              mctx.logger.error({ err, attempt }, 'module start failed; retrying');
          },
        }),
      );
    }
    health.up('modules');
    logger.info('ready');
  })();
  ready.catch((err: unknown) => {
    if (abort.signal.aborted) return;
    health.down('modules', err);
    logger.error({ err }, 'start-up failed');
  });

  shutdown.add('stop accepting', async () => {
    health.startDraining();
    abort.abort();
    await http.close();
  });
  shutdown.add('drain modules', async () => {
    for (const stop of stoppers.reverse()) await stop();
  });
  shutdown.add('close adapters', async () => connected?.close());
  return {
    http,
    api,
    url,
    managementUrl,
    ready,
    deps: ctx.deps,
    inject: (req) => inject(url, req),
    stop: (reason = 'stop') => shutdown.run(reason),
  };
}

/**
 * Answers with a W3C `traceresponse` header, so a client can quote its trace id. (Each server span
 * is named after its route template by HttpApp.route.)
 */
function traceResponses(http: HttpApp): void {
  http.use((_req, res, next) => {
    const span = trace.getActiveSpan();
    if (span?.isRecording()) {
      const traceparent = traceparentOf(context.active());
      if (traceparent) res.setHeader('traceresponse', traceparent);
    }
    next();
  });
}

/** For main.ts: run, wire signals, and exit non-zero on a start-up crash. */
export async function main<S extends Spec & { [K in keyof CommonConfig]: unknown }>(
  opts: RunOptions<S>,
): Promise<void> {
  try {
    const running = await runService({ ...opts, handleSignals: true });
    // Dependencies and module starts are retried inside runService; what still rejects here is
    // unrecoverable: exit, so the orchestrator restarts the process.
    running.ready.catch(async () => {
      await running.stop('start-up failed').catch(() => false);
      process.exit(1);
    });
  } catch (err) {
    exitOnStartupFailure(opts.name, err);
  }
}

/**
 * Holds each response until the store has committed what its request wrote (see
 * DocumentStore.durable); a commit that fails drops the connection rather than answer for it.
 */
function durableResponses(store: () => DocumentStore | undefined): RequestHandler {
  return (_req, res, next) => {
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    res.end = ((...args: unknown[]) => {
      const s = store();
      if (!s) return end(...args);
      s.durable().then(
        () => end(...args),
        (err: unknown) => res.destroy(err instanceof Error ? err : new Error(String(err))),
      );
      return res;
    }) as Response['end'];
    next();
  };
}
