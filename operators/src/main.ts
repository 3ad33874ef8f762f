/**
 * The operator process, on the shared process runtime (config, JSON logs, tracing, metrics, the
 * management server with /healthz, /readyz, /metrics and /version, ordered shutdown): leader
 * election, then the informers and controllers. Kafka is connected on first use and again after a
 * failure: without Kafka the operator runs, watches and reports Ready=False KafkaError on its
 * resources, and /readyz names kafka, until Kafka is back.
 */
import { exitOnStartupFailure, retryForever, startProcess } from '@parley/common';
import { checkOperatorConfig, operatorSettings } from './config.ts';
import { KafkaTopics } from './kafka/topics.ts';
import { ClientNodeKube, kubeConfigFor } from './kube/clientnode.ts';
import { OperatorMetrics } from './metrics.ts';
import { Operator } from './operator.ts';

const NAME = 'parley-operator';

try {
  const proc = await startProcess({
    name: NAME,
    spec: operatorSettings,
    check: (c) => void checkOperatorConfig(c),
  });
  const { cfg: config, logger: log, health, shutdown } = proc;
  const kafka = KafkaTopics.create(config.kafka.brokers, config.kafka.clientId);
  const operator = new Operator(
    new ClientNodeKube(kubeConfigFor({ server: config.kube.server })),
    kafka,
    new OperatorMetrics(proc.metrics.registry),
    log,
    {
      identity: config.leader.identity,
      lease: { ...config.leader },
      namespace: config.kube.namespace,
      topicResyncMs: config.reconcile.topicResyncMs,
      maxBatch: config.reconcile.maxBatch,
      batchLingerMs: config.reconcile.batchLingerMs,
      backoff: { baseMs: config.reconcile.backoffBaseMs, maxMs: config.reconcile.backoffMaxMs },
      component: NAME,
    },
  );

  // Readiness names Kafka until the first connection; reconciles retry on their own backoff.
  health.register('kafka');
  const abort = new AbortController();
  void retryForever(() => kafka.ready(), {
    signal: abort.signal,
    policy: { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 },
    onFailure: (err, attempt) => {
      health.down('kafka', err);
      if (attempt === 0 || attempt % 10 === 0) log.warn({ err, attempt }, 'Kafka unreachable; retrying');
    },
  })
    .then(() => health.up('kafka'))
    .catch(() => undefined); // aborted by shutdown

  shutdown.add('readiness', () => {
    health.startDraining();
    abort.abort();
  });
  shutdown.add('operator', () => operator.stop(true));
  shutdown.add('kafka', () => kafka.close());
  shutdown.installSignalHandlers();

  const managementUrl = await proc.listenManagement();
  log.info({ managementUrl }, 'listening');
  operator.start();
} catch (err) {
  exitOnStartupFailure(NAME, err);
}
