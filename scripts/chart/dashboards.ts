/**
 * Grafana dashboards (monitoring/dashboards/*.json), generated so that every panel has the same
 * shape and every query can be checked against the metrics that really exist
 * (scripts/checks/monitoring.sh). Run by `npm run chart`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';

interface Panel {
  readonly title: string;
  /** PromQL, with `$namespace` for the namespace variable; legend in Grafana's `{{label}}` form. */
  readonly queries: readonly [expr: string, legend: string][];
  /** @default 'short' */
  readonly unit?: string;
}

const ns = 'namespace="$namespace"';

export const DASHBOARDS: Record<string, { title: string; panels: Panel[] }> = {
  parley: {
    title: 'Parley / Services',
    panels: [
      {
        title: 'Open WebSocket connections',
        queries: [[`sum by (pod) (parley_ws_connections{${ns}})`, '{{pod}}']],
      },
      {
        title: 'Connections opened / closed per second',
        queries: [
          [`sum(rate(parley_ws_connections_opened_total{${ns}}[5m]))`, 'opened'],
          [`sum by (code) (rate(parley_ws_connections_closed_total{${ns}}[5m]))`, 'closed {{code}}'],
        ],
        unit: 'ops',
      },
      {
        title: 'Messages stored per second (worker)',
        queries: [[`sum(rate(parley_worker_messages_stored_total{${ns}}[5m]))`, 'stored']],
        unit: 'ops',
      },
      {
        title: 'Frames per second (gateway)',
        queries: [
          [`sum by (type) (rate(parley_ws_frames_received_total{${ns}}[5m]))`, 'in {{type}}'],
          [`sum by (type) (rate(parley_ws_frames_sent_total{${ns}}[5m]))`, 'out {{type}}'],
        ],
        unit: 'ops',
      },
      {
        title: 'End-to-end latency from acceptance: persisted (worker), delivered (socket write)',
        queries: [
          [
            `histogram_quantile(0.5, sum by (stage, le) (rate(parley_delivery_latency_seconds_bucket{${ns}}[5m])))`,
            'p50 {{stage}}',
          ],
          [
            `histogram_quantile(0.99, sum by (stage, le) (rate(parley_delivery_latency_seconds_bucket{${ns}}[5m])))`,
            'p99 {{stage}}',
          ],
        ],
        unit: 's',
      },
      {
        title: 'Frame errors per second (gateway)',
        queries: [
          [`sum by (type, kind) (rate(parley_ws_frame_errors_total{${ns}}[5m]))`, '{{type}} {{kind}}'],
        ],
        unit: 'ops',
      },
      {
        title: 'Frame handling p99 (gateway)',
        queries: [
          [
            `histogram_quantile(0.99, sum by (type, le) (rate(parley_ws_frame_duration_seconds_bucket{${ns}}[5m])))`,
            '{{type}}',
          ],
        ],
        unit: 's',
      },
      {
        title: 'Typing notices and presence changes per second',
        queries: [
          [
            `sum by (state, outcome) (rate(parley_ws_typing_events_total{${ns}}[5m]))`,
            'typing {{state}} {{outcome}}',
          ],
          [`sum by (status) (rate(parley_presence_changes_total{${ns}}[5m]))`, 'presence → {{status}}'],
        ],
        unit: 'ops',
      },
      {
        title: 'Event log records per second (as the services see it)',
        queries: [
          [`sum by (topic) (rate(parley_eventlog_records_produced_total{${ns}}[5m]))`, 'produced {{topic}}'],
          [
            `sum by (group, topic) (rate(parley_eventlog_records_consumed_total{${ns}}[5m]))`,
            'consumed {{group}} {{topic}}',
          ],
        ],
        unit: 'ops',
      },
      {
        title: 'Event log errors per second',
        queries: [
          [`sum by (topic) (rate(parley_eventlog_produce_errors_total{${ns}}[5m]))`, 'produce {{topic}}'],
          [
            `sum by (group, topic) (rate(parley_eventlog_handler_errors_total{${ns}}[5m]))`,
            'handler {{group}} {{topic}}',
          ],
        ],
        unit: 'ops',
      },
      {
        title: 'Consumer lag as the consumers see it (total and worst partition)',
        queries: [
          [`sum by (group, topic) (parley_eventlog_consumer_lag{${ns}})`, 'total {{group}} {{topic}}'],
          [
            `max by (group, topic) (parley_eventlog_consumer_lag{${ns}})`,
            'worst partition {{group}} {{topic}}',
          ],
        ],
      },
      {
        title: 'Produce (acks=all) and worker store p99',
        queries: [
          [
            `histogram_quantile(0.99, sum by (topic, le) (rate(parley_eventlog_produce_duration_seconds_bucket{${ns}}[5m])))`,
            'produce {{topic}}',
          ],
          [
            `histogram_quantile(0.99, sum by (le) (rate(parley_worker_store_duration_seconds_bucket{${ns}}[5m])))`,
            'worker store (per batch)',
          ],
        ],
        unit: 's',
      },
      {
        title: 'Worker consumer lag and desired replicas (operator)',
        queries: [
          [`sum by (name) (parley_operator_consumer_lag{${ns}})`, 'lag {{name}}'],
          [`sum by (name) (parley_operator_desired_replicas{${ns}})`, 'desired replicas {{name}}'],
        ],
      },
      {
        title: 'HTTP requests per second by status class',
        queries: [
          [
            `sum by (job, status_class) (rate(parley_http_requests_total{${ns}}[5m]))`,
            '{{job}} {{status_class}}',
          ],
        ],
        unit: 'reqps',
      },
      {
        title: 'HTTP p99 latency',
        queries: [
          [
            `histogram_quantile(0.99, sum by (job, le) (rate(parley_http_request_duration_seconds_bucket{${ns}}[5m])))`,
            '{{job}}',
          ],
        ],
        unit: 's',
      },
      {
        title: 'Errors: dead letters, dropped frames, failed reconciles',
        queries: [
          [`sum(rate(parley_worker_dlq_total{${ns}}[5m]))`, 'dead-lettered'],
          [`sum(rate(parley_ws_send_buffer_drops_total{${ns}}[5m]))`, 'frames dropped'],
          [
            `sum by (controller) (rate(parley_operator_reconcile_errors_total{${ns}}[5m]))`,
            'reconcile errors {{controller}}',
          ],
        ],
        unit: 'ops',
      },
      {
        title: 'Auth: logins and registrations per second',
        queries: [
          [`sum by (outcome) (rate(parley_auth_logins_total{${ns}}[5m]))`, 'login {{outcome}}'],
          [`sum(rate(parley_auth_registrations_total{${ns}}[5m]))`, 'registrations'],
        ],
        unit: 'ops',
      },
    ],
  },
  kafka: {
    title: 'Parley / Kafka',
    panels: [
      { title: 'Brokers', queries: [[`kafka_brokers{${ns}}`, 'brokers']] },
      {
        title: 'Partitions per topic',
        queries: [[`sum by (topic) (kafka_topic_partitions{${ns}})`, '{{topic}}']],
      },
      {
        title: 'Messages in per second by topic',
        queries: [[`sum by (topic) (rate(kafka_topic_partition_current_offset{${ns}}[5m]))`, '{{topic}}']],
        unit: 'ops',
      },
      {
        title: 'Consumer group lag',
        queries: [
          [`sum by (consumergroup, topic) (kafka_consumergroup_lag{${ns}})`, '{{consumergroup}} {{topic}}'],
        ],
      },
      {
        title: 'Under-replicated partitions',
        queries: [[`sum by (topic) (kafka_topic_partition_under_replicated_partition{${ns}})`, '{{topic}}']],
      },
    ],
  },
  redis: {
    title: 'Parley / Redis Cluster',
    panels: [
      { title: 'Cluster state (1 = ok)', queries: [[`min(redis_cluster_state{${ns}})`, 'state']] },
      {
        title: 'Memory used / maxmemory',
        queries: [[`redis_memory_used_bytes{${ns}} / redis_memory_max_bytes{${ns}}`, '{{instance}}']],
        unit: 'percentunit',
      },
      {
        title: 'Commands per second',
        queries: [[`sum(rate(redis_commands_processed_total{${ns}}[5m]))`, 'commands']],
        unit: 'ops',
      },
      {
        title: 'Connected clients',
        queries: [[`sum by (instance) (redis_connected_clients{${ns}})`, '{{instance}}']],
      },
      {
        title: 'Keyspace hit ratio',
        queries: [
          [
            `sum(rate(redis_keyspace_hits_total{${ns}}[5m])) / (sum(rate(redis_keyspace_hits_total{${ns}}[5m])) + sum(rate(redis_keyspace_misses_total{${ns}}[5m])))`,
            'hit ratio',
          ],
        ],
        unit: 'percentunit',
      },
      {
        title: 'Evicted keys per second',
        queries: [[`sum(rate(redis_evicted_keys_total{${ns}}[5m]))`, 'evicted']],
        unit: 'ops',
      },
    ],
  },
  mongodb: {
    title: 'Parley / MongoDB',
    panels: [
      { title: 'Exporter connected (1 = up)', queries: [[`mongodb_up{${ns}}`, '{{instance}}']] },
      {
        title: 'Replica set member health',
        queries: [[`mongodb_mongod_replset_member_health{${ns}}`, '{{name}}']],
      },
      {
        title: 'Replica set member state',
        queries: [[`mongodb_mongod_replset_member_state{${ns}}`, '{{name}}']],
      },
      {
        title: 'Operations per second',
        queries: [[`sum by (type) (rate(mongodb_op_counters_total{${ns}}[5m]))`, '{{type}}']],
        unit: 'ops',
      },
      { title: 'Connections', queries: [[`sum by (state) (mongodb_connections{${ns}})`, '{{state}}']] },
    ],
  },
  nodes: {
    title: 'Parley / Nodes',
    panels: [
      {
        title: 'CPU busy',
        queries: [['1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))', '{{instance}}']],
        unit: 'percentunit',
      },
      {
        title: 'Memory available',
        queries: [['node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes', '{{instance}}']],
        unit: 'percentunit',
      },
      { title: 'Load (1m)', queries: [['node_load1', '{{instance}}']] },
      {
        title: 'Filesystem space left',
        queries: [
          [
            'node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay"}',
            '{{instance}} {{mountpoint}}',
          ],
        ],
        unit: 'percentunit',
      },
      {
        title: 'Network',
        queries: [
          ['sum by (instance) (rate(node_network_receive_bytes_total[5m]))', 'in {{instance}}'],
          ['sum by (instance) (rate(node_network_transmit_bytes_total[5m]))', 'out {{instance}}'],
        ],
        unit: 'Bps',
      },
    ],
  },
};

/** A Grafana dashboard (schema 39) with a Prometheus datasource and a namespace variable. */
export function dashboardJson(uid: string, d: { title: string; panels: Panel[] }): string {
  const panels = d.panels.map((p, i) => ({
    id: i + 1,
    type: 'timeseries',
    title: p.title,
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
    fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
    options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
    targets: p.queries.map(([expr, legendFormat], j) => ({
      refId: String.fromCharCode(65 + j),
      datasource: { type: 'prometheus', uid: '${datasource}' },
      expr,
      legendFormat,
    })),
  }));
  const dashboard = {
    uid: `parley-${uid}`,
    title: d.title,
    tags: ['parley'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus' },
        {
          name: 'namespace',
          label: 'Namespace',
          type: 'query',
          datasource: { type: 'prometheus', uid: '${datasource}' },
          query: 'label_values(up, namespace)',
          refresh: 2,
        },
      ],
    },
    panels,
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

/** Writes every dashboard into `dir`, formatted the way the repository's Prettier check expects. */
export async function writeDashboards(dir: URL): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const options = await resolveConfig(
    fileURLToPath(new URL('../../monitoring/dashboards/x.json', import.meta.url)),
  );
  for (const [uid, d] of Object.entries(DASHBOARDS)) {
    const text = await format(dashboardJson(uid, d), { ...options, parser: 'json' });
    writeFileSync(new URL(`${uid}.json`, dir), text);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = new URL(process.argv[2] ?? 'monitoring/dashboards', `file://${process.cwd()}/`);
  await writeDashboards(new URL(`${out.href.replace(/\/?$/, '/')}`));
}
