/**
 * The operator process: config, Kafka and Kubernetes adapters, leader election, /healthz, /readyz,
 * /metrics, and a graceful stop on SIGTERM (finish the batch in flight, release the Lease).
 */
import {
  createManagementServer,
  createLogger,
  createMetrics,
  Health,
  listenManagement,
  loadConfig,
  redactConfig,
  Shutdown,
} from '@parley/common';
import { checkOperatorConfig, operatorSettings } from './config.ts';
import { KafkaTopics } from './kafka/topics.ts';
import { ClientNodeKube, kubeConfigFor } from './kube/clientnode.ts';
import { OperatorMetrics } from './metrics.ts';
import { Operator } from './operator.ts';

const config = checkOperatorConfig(loadConfig(operatorSettings));
const log = createLogger({ level: config.log.level, name: 'parley-operator' });
log.info({ config: redactConfig(operatorSettings, config) }, 'starting');

const metrics = createMetrics({ service: 'parley-operator' });
const operatorMetrics = new OperatorMetrics(metrics.registry);
const health = new Health(log);
health.register('kafka');
const shutdown = new Shutdown(log, config.shutdownTimeoutMs);

// The operator has no API: its port serves /healthz, /readyz, /metrics and /version only.
const management = createManagementServer({
  metrics,
  health,
  version: { service: 'parley-operator', version: process.env.npm_package_version ?? '0.1.0' },
});

const kafka = await KafkaTopics.connect(config.kafka.brokers, config.kafka.clientId);
health.up('kafka');
const operator = new Operator(
  new ClientNodeKube(kubeConfigFor({ server: config.kube.server })),
  kafka,
  operatorMetrics,
  log,
  {
    identity: config.leader.identity,
    lease: { ...config.leader },
    namespace: config.kube.namespace,
    topicResyncMs: config.reconcile.topicResyncMs,
    maxBatch: config.reconcile.maxBatch,
    batchLingerMs: config.reconcile.batchLingerMs,
    backoff: { baseMs: config.reconcile.backoffBaseMs, maxMs: config.reconcile.backoffMaxMs },
    component: 'parley-operator',
  },
);

shutdown.add('readiness', () => health.startDraining());
shutdown.add('operator', () => operator.stop(true));
shutdown.add('kafka', () => kafka.close());
shutdown.add('http', () => new Promise<void>((resolve) => management.close(() => resolve())));
shutdown.installSignalHandlers();

await listenManagement(management, config.http.host, config.http.port);
operator.start();
