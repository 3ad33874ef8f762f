import { createRequire } from 'node:module';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  INVALID_SPAN_CONTEXT,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from './logger.ts';
import { OnDemandContextManager } from './tracecontext.ts';

export {
  SpanKind,
  SpanStatusCode,
  ROOT_CONTEXT,
  context,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';

export interface TracingConfig {
  /** OTLP/HTTP traces endpoint; tracing is off when absent (and no exporter is given). */
  endpoint?: string | undefined;
  serviceName: string;
  serviceVersion: string;
  sampleRatio: number;
  /** Export here instead of OTLP (tests: the SDK's InMemorySpanExporter). */
  exporter?: SpanExporter;
}

export interface Tracing {
  enabled: boolean;
  shutdown(): Promise<void>;
}

/** The instrumentation scope of Parley's own spans (libraries' spans carry their own). */
export const TRACER = 'parley';

/** The process-wide SDK: one per process, shared by every service started in it (standalone, tests). */
let installed: { users: number; shutdown: () => Promise<void>; ratio: number } | undefined;

/** Whether an SDK is installed in this process (spans are recorded and context propagates). */
export function tracingEnabled(): boolean {
  return installed !== undefined;
}

/**
 * Starts the OpenTelemetry SDK only when an endpoint (or an exporter) is configured; otherwise
 * nothing is loaded and the API stays the no-op it is by default, so tracing costs nothing when
 * off. The SDK is process-wide: a second service in the same process shares the first one's.
 *
 * Instrumented: HTTP server and client (node:http and fetch; http.ts names the server span after
 * its route template), the MongoDB driver (under mongoose) and ioredis, each only inside a traced
 * operation (no orphan spans for background polling); Kafka and the WebSocket
 * gateway are traced by Parley's own spans (eventlog/traced.ts, the gateway), because a batch
 * consumer must continue each record's own trace, which kafkajs's instrumentation only links.
 */
export async function startTracing(cfg: TracingConfig, logger: Logger): Promise<Tracing> {
  if (!cfg.endpoint && !cfg.exporter) return { enabled: false, shutdown: async () => {} };
  if (installed) {
    installed.users++;
    return { enabled: true, shutdown: release };
  }
  const [
    { NodeSDK },
    { OTLPTraceExporter },
    { HttpInstrumentation },
    { IORedisInstrumentation },
    { MongoDBInstrumentation },
    { UndiciInstrumentation },
    resources,
    sdkTrace,
  ] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@opentelemetry/instrumentation-mongodb'),
    import('@opentelemetry/instrumentation-undici'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
  ]);
  const exporter = cfg.exporter ?? new OTLPTraceExporter({ url: cfg.endpoint });
  const sdk = new NodeSDK({
    resource: resources.resourceFromAttributes({
      'service.name': cfg.serviceName,
      'service.version': cfg.serviceVersion,
    }),
    // Tests read spans as soon as they end; production batches them off the hot path.
    spanProcessors: [
      cfg.exporter ? new sdkTrace.SimpleSpanProcessor(exporter) : new sdkTrace.BatchSpanProcessor(exporter),
    ],
    sampler: new sdkTrace.ParentBasedSampler({
      root: new sdkTrace.TraceIdRatioBasedSampler(cfg.sampleRatio),
    }),
    instrumentations: [
      new HttpInstrumentation({
        // Probes and scrapes are not the story of a message.
        ignoreIncomingRequestHook: (req) =>
          untracedRequest(req.url, req.headers.traceparent, cfg.sampleRatio),
        requireParentforOutgoingSpans: true,
      }),
      // fetch(): the JWKS download of token verification, GitHub OAuth.
      new UndiciInstrumentation({ requireParentforSpans: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
      new MongoDBInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
    ],
    // Async hooks stay off until a trace is recorded (tracecontext.ts): at sampling 0 they were
    // most of the SDK's cost.
    contextManager: new OnDemandContextManager(),
    // Traces only: metrics are Prometheus (prom-client), logs are pino on stdout.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  patchLoadedModules();
  installed = { users: 1, shutdown: () => sdk.shutdown(), ratio: cfg.sampleRatio };
  logger.info(
    { endpoint: cfg.endpoint ?? 'in-process exporter', sampleRatio: cfg.sampleRatio },
    'tracing enabled',
  );
  return { enabled: true, shutdown: release };
}

async function release(): Promise<void> {
  if (!installed || --installed.users > 0) return;
  const { shutdown } = installed;
  installed = undefined;
  await shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
}

/**
 * Parley is ESM, so its own `import`s of these CommonJS packages happened before the SDK hooked
 * `require`. The instrumentations patch prototypes, which the already-loaded modules share: one
 * `require` of each through the hook applies the patches to them too.
 */
function patchLoadedModules(): void {
  const require = createRequire(import.meta.url);
  for (const id of [
    'node:http',
    'node:https',
    'ioredis',
    'mongodb',
    'mongodb/lib/cmap/connection.js',
    'mongodb/lib/cmap/connect.js',
    'mongodb/lib/sessions.js',
  ])
    require(id);
}

/**
 * Requests the HTTP instrumentation leaves alone: probes and scrapes (not the story of a
 * message), and at sampling 0 every request that does not continue a sampled trace. Such a
 * request would only get a span that is never recorded, at a few percent of the throughput
 * (#19); it still runs, with tracing suppressed. An unsampled trace a client names is then not
 * passed on, which changes nothing downstream: there it is not sampled either.
 */
export function untracedRequest(url: string | undefined, traceparent: unknown, ratio: number): boolean {
  if (/^\/(livez|readyz|healthz|metrics)\b/.test(url ?? '')) return true;
  return ratio <= 0 && !(typeof traceparent === 'string' && SAMPLED_TRACEPARENT.test(traceparent.trim()));
}

/** A W3C traceparent whose flags have the sampled bit set, shaped as the SDK's propagator parses it. */
const SAMPLED_TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f][13579bdf](-.*)?$/;

/** The tracer for Parley's own spans. */
export function tracer() {
  return trace.getTracer(TRACER);
}

/** The W3C `traceparent` of a context ('' when it holds no valid span context). */
export function traceparentOf(ctx: Context): string {
  const sc = trace.getSpanContext(ctx);
  if (!sc || !trace.isSpanContextValid(sc)) return '';
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ?? '';
}

/** The context a W3C `traceparent` (and `tracestate`) describes, on top of `base`. */
export function contextFrom(
  carrier: Readonly<Record<string, string | undefined>>,
  base: Context = ROOT_CONTEXT,
): Context {
  if (!tracingEnabled() || !carrier.traceparent) return base;
  return propagation.extract(base, carrier);
}

/** The trace id of a context's span, when that span is sampled or remote-valid; else undefined. */
export function traceIdOf(ctx: Context): string | undefined {
  const sc = trace.getSpanContext(ctx);
  return sc && trace.isSpanContextValid(sc) ? sc.traceId : undefined;
}

/**
 * Runs `fn` in a child span of `parent` (default: the active context), ending it when `fn`
 * settles; a throw marks the span as an error and is rethrown. With tracing off the span is the
 * API's no-op and this is one extra closure call.
 */
export async function inSpan<T>(
  name: string,
  opts: { kind?: SpanKind; attributes?: Attributes; parent?: Context },
  fn: (span: Span, ctx: Context) => Promise<T>,
): Promise<T> {
  const parent = opts.parent ?? context.active();
  if (!willRecord(parent))
    return parent === context.active()
      ? fn(NON_RECORDING_SPAN, parent)
      : context.with(parent, () => fn(NON_RECORDING_SPAN, parent));
  const span = tracer().startSpan(
    name,
    { kind: opts.kind ?? SpanKind.INTERNAL, ...(opts.attributes ? { attributes: opts.attributes } : {}) },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  try {
    return await context.with(ctx, () => fn(span, ctx));
  } catch (err) {
    failSpan(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Whether a span started under `parent` could be recorded, decided as the SDK's ParentBased
 * sampler would, without making one: a valid parent decides by its sampled flag, a root span by
 * the ratio (0: never). A non-recording span still costs ids, a sampler call and context
 * switches; at sampling 0 that was 14-17% of the throughput (#9, #19), so callers skip the span
 * and pass the parent on (an unsampled trace id still propagates).
 */
export function willRecord(parent: Context): boolean {
  if (!installed) return false;
  const sc = trace.getSpanContext(parent);
  if (sc && trace.isSpanContextValid(sc)) return (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
  return installed.ratio > 0;
}

/** The span a caller gets when none is made: records nothing. */
export const NON_RECORDING_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Starts a child span of `parent` the caller ends; `ctx` carries it (for headers, children). */
export function startSpan(
  name: string,
  parent: Context,
  attributes?: Attributes,
): { span: Span; ctx: Context } {
  if (!willRecord(parent)) return { span: NON_RECORDING_SPAN, ctx: parent };
  const span = tracer().startSpan(
    name,
    { kind: SpanKind.INTERNAL, ...(attributes ? { attributes } : {}) },
    parent,
  );
  return { span, ctx: trace.setSpan(parent, span) };
}

/** Marks a span failed with the error. */
export function failSpan(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}
