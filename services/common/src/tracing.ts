import type { Logger } from './logger.ts';

export interface TracingConfig {
  /** OTLP/HTTP traces endpoint; tracing is off when absent. */
  endpoint?: string | undefined;
  serviceName: string;
  serviceVersion: string;
  sampleRatio: number;
}

export interface Tracing {
  enabled: boolean;
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK only when an endpoint is configured; otherwise nothing is loaded,
 * so tracing costs nothing when off. Call before the instrumented modules are used.
 */
export async function startTracing(cfg: TracingConfig, logger: Logger): Promise<Tracing> {
  if (!cfg.endpoint) return { enabled: false, shutdown: async () => {} };
  const [{ NodeSDK }, { OTLPTraceExporter }, { HttpInstrumentation }, resources, sdkTrace] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace-base'),
    ]);
  const sdk = new NodeSDK({
    resource: resources.resourceFromAttributes({
      'service.name': cfg.serviceName,
      'service.version': cfg.serviceVersion,
    }),
    traceExporter: new OTLPTraceExporter({ url: cfg.endpoint }),
    sampler: new sdkTrace.ParentBasedSampler({
      root: new sdkTrace.TraceIdRatioBasedSampler(cfg.sampleRatio),
    }),
    instrumentations: [new HttpInstrumentation()],
  });
  sdk.start();
  logger.info({ endpoint: cfg.endpoint, sampleRatio: cfg.sampleRatio }, 'tracing enabled');
  return { enabled: true, shutdown: () => sdk.shutdown() };
}
