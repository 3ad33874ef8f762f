import { readdirSync, readFileSync } from 'node:fs';
import { Construct } from 'constructs';
import { parse } from 'yaml';
import type { Knobs } from './knobs.ts';
import { containerSecurity, imageOf, secretEnv, tcpProbe, type Json } from './pod.ts';
import { MANAGEMENT_PORT } from './parley-app.ts';
import { RUNBOOK_BASE_URL } from './values/parley.ts';
import { Workload } from './workload.ts';

/** Metrics port of each exporter. */
export const EXPORTER_PORTS = {
  'kafka-exporter': 9308,
  'redis-exporter': 9121,
  'mongodb-exporter': 9216,
} as const;
const NOBODY = 65534;
const MONITORING_DIR = new URL('../../monitoring/', import.meta.url);
/** Parley components and the Service port that serves their /metrics. */
const APPS = {
  auth: ['management', MANAGEMENT_PORT],
  'message-api': ['management', MANAGEMENT_PORT],
  'message-worker': ['management', MANAGEMENT_PORT],
  'message-media': ['management', MANAGEMENT_PORT],
  'message-notifier': ['management', MANAGEMENT_PORT],
  operator: ['management', MANAGEMENT_PORT],
} as const;

/**
 * The alerting rules file (monitoring/prometheus/rules.yaml) with every runbook_url moved from
 * RUNBOOK_BASE_URL to `base` (`<base>#<anchor>`). The text, not a re-serialization, so the plain
 * prometheus.yml ConfigMap carries the file as written.
 */
export function alertRulesText(base: string = RUNBOOK_BASE_URL): string {
  const text = readFileSync(new URL('prometheus/rules.yaml', MONITORING_DIR), 'utf8');
  const prefix = `${RUNBOOK_BASE_URL}#`;
  for (const group of (parse(text) as { groups: { rules: Json[] }[] }).groups) {
    for (const rule of group.rules) {
      const url = (rule.annotations as Record<string, string> | undefined)?.runbook_url ?? '';
      if (!url.startsWith(prefix) || url.length === prefix.length) {
        throw new Error(`alert ${String(rule.alert)}: runbook_url (${url}) must be ${prefix}<anchor>`);
      }
    }
  }
  // A function, so a `$` in the base is not read as a replacement pattern.
  return text.replaceAll(prefix, () => `${base}#`);
}

/** The alerting rules as a Prometheus rule file object, runbook links under `base`. */
export function alertRules(base: string = RUNBOOK_BASE_URL): { groups: Json[] } {
  return parse(alertRulesText(base)) as { groups: Json[] };
}

/** Grafana dashboards (monitoring/dashboards/*.json): file name → JSON text. */
export function dashboards(): Record<string, string> {
  const dir = new URL('dashboards/', MONITORING_DIR);
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => [f, readFileSync(new URL(f, dir), 'utf8')]),
  );
}

export interface MonitoringProps {
  readonly kafka: string;
  readonly redisSecret: string;
  readonly mongoHosts: string;
  readonly mongoSecret: string;
}

/**
 * Optional monitoring (`metrics.*`): Kafka, Redis and MongoDB exporters, ServiceMonitors and a
 * PrometheusRule for the Prometheus Operator, Grafana dashboards as sidecar-labelled ConfigMaps,
 * and a plain prometheus.yml for clusters without the operator.
 */
export class Monitoring extends Construct {
  constructor(scope: Construct, id: string, k: Knobs, props: MonitoringProps) {
    super(scope, id);
    k.when('metrics.enabled', () => this.exporters(k, props));
    // Without the Prometheus Operator's API the chart skips these (NOTES.txt says so) rather than
    // failing the install; the plain manifests assume the values were set knowingly.
    const withPrometheusOperator = (build: () => void) =>
      k.under('$.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"', true, build);
    k.when('metrics.serviceMonitor', () =>
      withPrometheusOperator(() => {
        for (const component of [...Object.keys(APPS), ...Object.keys(EXPORTER_PORTS)]) {
          const exporter = component in EXPORTER_PORTS;
          const port = exporter ? 'metrics' : APPS[component as keyof typeof APPS][0];
          const scrape = () =>
            k.emit(this, `sm-${component}`, {
              apiVersion: 'monitoring.coreos.com/v1',
              kind: 'ServiceMonitor',
              metadata: k.meta(k.name(component), component),
              spec: {
                selector: { matchLabels: k.selector(component) },
                endpoints: [{ port, path: '/metrics', interval: '30s' }],
              },
            });
          if (exporter) k.when('metrics.enabled', scrape);
          else scrape();
        }
      }),
    );
    k.when('metrics.prometheusRule', () =>
      withPrometheusOperator(() => {
        k.emit(this, 'rules', {
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'PrometheusRule',
          metadata: k.meta(k.name('alerts'), 'monitoring'),
          spec: alertRules(k.v<string>('metrics.runbookBaseUrl')),
        });
      }),
    );
    k.when('metrics.dashboards', () => {
      for (const [file, json] of Object.entries(dashboards())) {
        const name = file.replace(/\.json$/, '');
        k.emit(this, `dashboard-${name}`, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            ...k.meta(k.name(`dashboard-${name}`), 'monitoring'),
            labels: { ...k.labels('monitoring'), grafana_dashboard: '1' },
          },
          data: { [file]: json },
        });
      }
    });
    k.when('metrics.prometheusConfig', () => {
      k.emit(this, 'prometheus-config', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: k.meta(k.name('prometheus-config'), 'monitoring'),
        data: {
          'prometheus.yml': prometheusYml(k),
          'parley-rules.yml': alertRulesText(k.v<string>('metrics.runbookBaseUrl')),
        },
      });
    });
  }

  private exporters(k: Knobs, p: MonitoringProps): void {
    const exporter = (component: keyof typeof EXPORTER_PORTS, imagePath: string, extra: Json) =>
      new Workload(this, component, k, {
        component,
        replicas: 1,
        uid: NOBODY,
        maxUnavailable: 0,
        containers: [
          {
            name: component,
            ...imageOf(k, imagePath),
            ...extra,
            ports: [{ name: 'metrics', containerPort: EXPORTER_PORTS[component] }],
            resources: { requests: { cpu: '20m', memory: '32Mi' }, limits: { memory: '128Mi' } },
            securityContext: containerSecurity(true),
            readinessProbe: tcpProbe('metrics'),
            livenessProbe: tcpProbe('metrics', { failureThreshold: 6 }),
          },
        ],
        ports: [{ name: 'metrics', port: EXPORTER_PORTS[component] }],
      });
    exporter('kafka-exporter', 'metrics.kafkaExporterImage', { args: [`--kafka.server=${p.kafka}`] });
    exporter('redis-exporter', 'metrics.redisExporterImage', {
      env: [
        { name: 'REDIS_ADDR', value: `redis://${k.name('redis')}-0.${k.name('redis-headless')}:6379` },
        { name: 'REDIS_EXPORTER_IS_CLUSTER', value: 'true' },
        secretEnv('REDIS_PASSWORD', p.redisSecret, 'redis-password'),
      ],
    });
    exporter('mongodb-exporter', 'metrics.mongodbExporterImage', {
      args: ['--collect-all', '--compatible-mode'],
      env: [
        secretEnv('METRICS_PASSWORD', p.mongoSecret, 'metrics-password'),
        {
          name: 'MONGODB_URI',
          value: `mongodb://metrics:$(METRICS_PASSWORD)@${p.mongoHosts}/admin?replicaSet=${k.v<string>('mongodb.replicaSetName')}`,
        },
      ],
    });
  }
}

/** Scrape configs that find this release's pods through Kubernetes service discovery. */
function prometheusYml(k: Knobs): string {
  const job = (component: string, port: number | string) =>
    [
      `  - job_name: ${component}`,
      '    kubernetes_sd_configs: [{ role: pod }]',
      '    relabel_configs:',
      '      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_instance, __meta_kubernetes_pod_label_app_kubernetes_io_component]',
      `        regex: ${k.releaseName};${component}`,
      '        action: keep',
      '      - source_labels: [__meta_kubernetes_pod_container_port_number]',
      `        regex: "${port}"`,
      '        action: keep',
      '      - source_labels: [__meta_kubernetes_pod_name]',
      '        target_label: pod',
      '      - source_labels: [__meta_kubernetes_namespace]',
      '        target_label: namespace',
    ].join('\n');
  return [
    'global: { scrape_interval: 30s, evaluation_interval: 30s }',
    'rule_files: [parley-rules.yml]',
    'scrape_configs:',
    ...Object.entries(APPS).map(([a, [, port]]) => job(a, port)),
    ...Object.entries(EXPORTER_PORTS).map(([e, port]) => job(e, port)),
    '',
  ].join('\n');
}
