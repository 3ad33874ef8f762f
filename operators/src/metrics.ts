/** The operator's Prometheus series, registered at zero at start-up so dashboards have no gaps. */
import client, { type Registry } from 'prom-client';
import type { Outcome } from './controller/queue.ts';

export const CONTROLLERS = ['topic', 'consumerautoscaler'] as const;
export type ControllerName = (typeof CONTROLLERS)[number];
const RESULTS = ['success', 'error', 'terminal'] as const;

export class OperatorMetrics {
  readonly reconciles: client.Counter<'controller' | 'result'>;
  readonly reconcileErrors: client.Counter<'controller'>;
  readonly reconcileDuration: client.Histogram<'controller'>;
  readonly lag: client.Gauge<'namespace' | 'name'>;
  readonly desiredReplicas: client.Gauge<'namespace' | 'name'>;
  readonly scaleEvents: client.Counter<'namespace' | 'name' | 'direction'>;
  readonly leader: client.Gauge;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.reconciles = new client.Counter({
      name: 'parley_operator_reconcile_total',
      help: 'Reconciles by controller and result (success, error: retried with backoff, terminal: not retried).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new client.Counter({
      name: 'parley_operator_reconcile_errors_total',
      help: 'Reconciles that failed and will be retried with backoff, by controller.',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileDuration = new client.Histogram({
      name: 'parley_operator_reconcile_duration_seconds',
      help: 'Duration of one reconcile batch, by controller.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.lag = new client.Gauge({
      name: 'parley_operator_consumer_lag',
      help: 'Total lag of the consumer group, by ConsumerAutoscaler (namespace, name).',
      labelNames: ['namespace', 'name'],
      registers,
    });
    this.desiredReplicas = new client.Gauge({
      name: 'parley_operator_desired_replicas',
      help: 'Replicas the policy wants for the target Deployment, by ConsumerAutoscaler.',
      labelNames: ['namespace', 'name'],
      registers,
    });
    this.scaleEvents = new client.Counter({
      name: 'parley_operator_scale_total',
      help: 'Scale subresource updates, by ConsumerAutoscaler and direction (up, down).',
      labelNames: ['namespace', 'name', 'direction'],
      registers,
    });
    this.leader = new client.Gauge({
      name: 'parley_operator_leader',
      help: '1 while this replica holds the leader Lease and reconciles, else 0.',
      registers,
    });
    for (const controller of CONTROLLERS) {
      for (const result of RESULTS) this.reconciles.labels(controller, result).inc(0);
      this.reconcileErrors.labels(controller).inc(0);
      this.reconcileDuration.zero({ controller });
    }
    this.leader.set(0);
  }

  outcome(controller: ControllerName, outcome: Outcome): void {
    const result = outcome.kind === 'ok' ? 'success' : outcome.kind;
    this.reconciles.labels(controller, result).inc();
    if (outcome.kind === 'error') this.reconcileErrors.labels(controller).inc();
  }

  /** Registers an autoscaler's series at zero when the operator first sees it. */
  primeAutoscaler(namespace: string, name: string): void {
    this.lag.labels(namespace, name).set(0);
    this.desiredReplicas.labels(namespace, name).set(0);
    for (const direction of ['up', 'down']) this.scaleEvents.labels(namespace, name, direction).inc(0);
  }

  forgetAutoscaler(namespace: string, name: string): void {
    this.lag.remove(namespace, name);
    this.desiredReplicas.remove(namespace, name);
    for (const direction of ['up', 'down']) this.scaleEvents.remove(namespace, name, direction);
  }
}
