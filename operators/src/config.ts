/** The operator's settings: one typed schema, a default and a doc string per field, parsed once at boot. */
import { hostname } from 'node:os';
import { field, optionalField, parse, processSettings, type Infer } from '@parley/common';

export const operatorSettings = {
  kafka: {
    brokers: field(parse.list(), {
      env: 'KAFKA_BROKERS',
      doc: 'Comma-separated Kafka bootstrap brokers (host:port) whose topics and consumer groups the operator manages.',
    }),
    clientId: field(parse.string(), {
      env: 'KAFKA_CLIENT_ID',
      default: 'parley-operator',
      doc: 'Kafka client id.',
    }),
  },
  kube: {
    server: optionalField(parse.url(['http', 'https']), {
      env: 'KUBE_SERVER',
      doc: 'API server URL without credentials (tests, the fake API server). Absent: in-cluster service account or KUBECONFIG.',
    }),
    namespace: optionalField(parse.string(), {
      env: 'WATCH_NAMESPACE',
      doc: 'Watch Topics and ConsumerAutoscalers in this namespace only. Absent: all namespaces (needs a ClusterRole).',
    }),
  },
  leader: {
    identity: field(parse.string(), {
      env: 'POD_NAME',
      default: hostname(),
      doc: 'This replica’s holder identity in the Lease (set from the downward API).',
    }),
    namespace: field(parse.string(), {
      env: 'LEASE_NAMESPACE',
      default: 'parley',
      doc: 'Namespace of the leader-election Lease (the operator’s own).',
    }),
    name: field(parse.string(), { env: 'LEASE_NAME', default: 'parley-operator', doc: 'Name of the Lease.' }),
    leaseDurationMs: field(parse.int(1000, 300_000), {
      env: 'LEASE_DURATION_MS',
      default: '15000',
      doc: 'How long standbys wait, after the Lease last changed, before taking it over.',
    }),
    renewDeadlineMs: field(parse.int(500, 300_000), {
      env: 'LEASE_RENEW_DEADLINE_MS',
      default: '10000',
      doc: 'A leader that could not renew for this long stops reconciling (must be < LEASE_DURATION_MS).',
    }),
    retryPeriodMs: field(parse.int(100, 60_000), {
      env: 'LEASE_RETRY_PERIOD_MS',
      default: '2000',
      doc: 'How often every replica reads (and the leader renews) the Lease.',
    }),
  },
  reconcile: {
    topicResyncMs: field(parse.int(1000, 86_400_000), {
      env: 'TOPIC_RESYNC_MS',
      default: '300000',
      doc: 'Re-read every Topic’s Kafka state this often even without changes, reverting drift.',
    }),
    maxBatch: field(parse.int(1, 1000), {
      env: 'RECONCILE_MAX_BATCH',
      default: '100',
      doc: 'Most resources reconciled in one batch (one Kafka observation round).',
    }),
    batchLingerMs: field(parse.int(0, 10_000), {
      env: 'RECONCILE_BATCH_LINGER_MS',
      default: '100',
      doc: 'Once a resource is due, wait this long for others to join its batch.',
    }),
    backoffBaseMs: field(parse.int(10, 600_000), {
      env: 'RECONCILE_BACKOFF_BASE_MS',
      default: '1000',
      doc: 'First retry delay after a failed reconcile; doubles per failure.',
    }),
    backoffMaxMs: field(parse.int(100, 3_600_000), {
      env: 'RECONCILE_BACKOFF_MAX_MS',
      default: '300000',
      doc: 'Longest retry delay.',
    }),
  },
  // Management server (/healthz, /readyz, /metrics, /version), logs, shutdown deadline and tracing:
  // the same settings, under the same names, as every Parley service.
  ...processSettings,
};

export type OperatorConfig = Infer<typeof operatorSettings>;

/** Cross-field rules the per-field parsers cannot check; errors are prefixed with the path. */
export function checkOperatorConfig(c: OperatorConfig): OperatorConfig {
  if (c.leader.renewDeadlineMs >= c.leader.leaseDurationMs)
    throw new Error(
      `in leader.renewDeadlineMs (LEASE_RENEW_DEADLINE_MS): must be < leader.leaseDurationMs (${c.leader.leaseDurationMs}) (got ${c.leader.renewDeadlineMs})`,
    );
  if (c.reconcile.backoffBaseMs > c.reconcile.backoffMaxMs)
    throw new Error(
      `in reconcile.backoffBaseMs (RECONCILE_BACKOFF_BASE_MS): must be <= reconcile.backoffMaxMs (${c.reconcile.backoffMaxMs}) (got ${c.reconcile.backoffBaseMs})`,
    );
  return c;
}
