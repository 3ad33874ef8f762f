import client from 'prom-client';
import { registerSqliteMetrics } from './docstore/sqlitestats.ts';
import { registerMongoMetrics } from './docstore/mongostats.ts';
import { EventLogMetrics } from './eventlog/metrics.ts';

export { EventLogMetrics, consumerLag } from './eventlog/metrics.ts';

export type { Registry } from 'prom-client';

export interface HttpMetrics {
  requests: client.Counter<'method' | 'route' | 'status_class'>;
  duration: client.Histogram<'method' | 'route'>;
  inFlight: client.Gauge;
}

export interface Metrics {
  registry: client.Registry;
  http: HttpMetrics;
  /** Produce/consume series of whichever event log adapter the process connects (if any). */
  eventlog: EventLogMetrics;
}

/** A fresh registry with process/runtime metrics, the HTTP RED series and the event log's. */
export function createMetrics(defaultLabels: Record<string, string> = {}): Metrics {
  const registry = new client.Registry();
  registry.setDefaultLabels(defaultLabels);
  client.collectDefaultMetrics({ register: registry });
  const http: HttpMetrics = {
    requests: new client.Counter({
      name: 'parley_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status class.',
      labelNames: ['method', 'route', 'status_class'],
      registers: [registry],
    }),
    duration: new client.Histogram({
      name: 'parley_http_request_duration_seconds',
      help: 'HTTP request duration from arrival to response sent, by method and route template.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    inFlight: new client.Gauge({
      name: 'parley_http_requests_in_flight',
      help: 'HTTP requests being processed.',
      registers: [registry],
    }),
  };
  registerSqliteMetrics(registry);
  registerMongoMetrics(registry);
  return { registry, http, eventlog: new EventLogMetrics(registry) };
}

/** Registers every (method, route) at zero so dashboards show no gaps before traffic. */
export function primeHttpRoute(http: HttpMetrics, method: string, route: string): void {
  for (const status_class of ['2xx', '3xx', '4xx', '5xx'])
    http.requests.labels(method, route, status_class).inc(0);
  http.duration.zero({ method, route });
}

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
