/**
 * Every Parley metric, read from the registries the processes build (not from the source text):
 * the README catalogue (scripts/gen-metrics-docs.ts) and the monitoring check
 * (scripts/chart/metrics-check.ts) both use it.
 */
import { Registry, type Metric } from 'prom-client';
import { createMetrics } from '../services/common/src/metrics.ts';
import { AuthMetrics } from '../services/auth/src/metrics.ts';
import { GatewayMetrics } from '../services/message/src/gateway/metrics.ts';
import { RelayMetrics } from '../services/message/src/fanout/relay.ts';
import { WorkerMetrics } from '../services/message/src/worker/worker.ts';
import { NotifyMetrics } from '../services/message/src/notify/metrics.ts';
import { MediaMetrics } from '../services/message/src/media/metrics.ts';
import { OperatorMetrics } from '../operators/src/metrics.ts';

export interface MetricDoc {
  name: string;
  type: string;
  help: string;
  labels: string[];
  /** Label values registered at start-up (at zero), per label. */
  values: Record<string, string[]>;
  /** Which processes export it. */
  where: string;
}

/** The processes and what each registers beside the metrics every process has. */
const COMPONENTS: [where: string, register: (r: Registry) => unknown][] = [
  ['every service', () => undefined],
  ['auth', (r) => new AuthMetrics(r)],
  ['message api', (r) => [new GatewayMetrics(r), new RelayMetrics(r)]],
  ['message worker', (r) => new WorkerMetrics(r)],
  ['message notifier', (r) => new NotifyMetrics(r)],
  ['message media', (r) => new MediaMetrics(r)],
  ['operator', (r) => new OperatorMetrics(r)],
];

/** Node.js and process series from prom-client's default collectors, listed as a family. */
export const isRuntimeMetric = (name: string): boolean => !name.startsWith('parley_');

export async function metricCatalogue(): Promise<MetricDoc[]> {
  const byName = new Map<string, MetricDoc>();
  for (const [where, register] of COMPONENTS) {
    const registry = where === 'every service' ? createMetrics().registry : new Registry();
    register(registry);
    for (const metric of registry.getMetricsAsArray() as unknown as Metric[]) {
      const { name, help, type, values } = await metric.get();
      if (isRuntimeMetric(name)) continue;
      const labels = (metric as unknown as { labelNames: string[] }).labelNames.filter((l) => l !== 'le');
      const doc: MetricDoc = byName.get(name) ?? {
        name,
        type: String(type),
        help,
        labels,
        values: {},
        where: '',
      };
      doc.where = doc.where ? `${doc.where}, ${where}` : where;
      for (const l of labels) {
        const vs = new Set([...(doc.values[l] ?? []), ...values.map((v) => String(v.labels[l] ?? ''))]);
        vs.delete('');
        if (vs.size) doc.values[l] = [...vs];
      }
      byName.set(name, doc);
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The series names a metric exposes (a histogram's _bucket, _sum and _count). */
export function seriesNames(m: Pick<MetricDoc, 'name' | 'type'>): string[] {
  return m.type === 'histogram' ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name];
}
