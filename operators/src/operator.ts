/**
 * Wires informers, controllers and the leader elector. Every replica campaigns for the Lease; only
 * the leader runs informers and controllers. Losing the Lease stops them (the batch in flight
 * finishes), so two replicas never reconcile at once for longer than a renew deadline.
 */
import { inSpan, type Logger } from '@parley/common';
import type { ConsumerAutoscaler } from './autoscale/types.ts';
import type { Topic } from './topic/types.ts';
import { CONSUMER_AUTOSCALERS, TOPICS } from './kube/kinds.ts';
import type { KubePort } from './kube/port.ts';
import { AutoscalerReconciler, type OffsetSource } from './controller/autoscaler.ts';
import { Informer, splitKey } from './controller/informer.ts';
import { LeaderElector, type LeaseTimings } from './controller/leader.ts';
import { Controller, type BackoffPolicy, type Outcome } from './controller/queue.ts';
import { TopicReconciler, type TopicStore } from './controller/topic.ts';
import type { ControllerName, OperatorMetrics } from './metrics.ts';

export interface OperatorOptions {
  /** This replica's name in the Lease (the pod name). */
  identity: string;
  lease: { namespace: string; name: string } & LeaseTimings;
  /** Watch one namespace only; all namespaces when absent. */
  namespace?: string;
  topicResyncMs: number;
  maxBatch: number;
  batchLingerMs: number;
  backoff: BackoffPolicy;
  /** Events' source component. */
  component: string;
}

export class Operator {
  private readonly elector: LeaderElector;
  private readonly topics: Informer<Topic>;
  private readonly autoscalers: Informer<ConsumerAutoscaler>;
  private readonly topicController: Controller;
  private readonly autoscalerController: Controller;
  private transition: Promise<void> = Promise.resolve();

  constructor(
    kube: KubePort,
    kafka: TopicStore & OffsetSource,
    private readonly metrics: OperatorMetrics,
    private readonly log: Logger,
    opts: OperatorOptions,
  ) {
    const informerError = (kind: string) => (err: unknown) =>
      log.warn({ err, kind }, 'watch ended; relisting');
    this.topics = new Informer<Topic>(
      kube,
      TOPICS,
      (key) => this.topicController.enqueue(key),
      informerError('topics'),
      opts.namespace,
    );
    this.autoscalers = new Informer<ConsumerAutoscaler>(
      kube,
      CONSUMER_AUTOSCALERS,
      (key, object) => {
        const { namespace, name } = splitKey(key);
        if (object) {
          metrics.primeAutoscaler(namespace, name);
          this.autoscalerController.enqueue(key);
        } else {
          this.autoscalerController.forget(key);
          autoscaler.forget(key, namespace, name);
        }
      },
      informerError('consumerautoscalers'),
      opts.namespace,
    );
    const topic = new TopicReconciler(kube, kafka, this.topics, log.child({ controller: 'topic' }), {
      resyncMs: opts.topicResyncMs,
      component: opts.component,
    });
    const autoscaler = new AutoscalerReconciler(
      kube,
      kafka,
      this.autoscalers,
      metrics,
      log.child({ controller: 'consumerautoscaler' }),
      opts.component,
    );
    const controllerOpts = {
      maxBatch: opts.maxBatch,
      batchLingerMs: opts.batchLingerMs,
      backoff: opts.backoff,
    };
    this.topicController = new Controller(
      { name: 'topic', ...controllerOpts },
      (keys) => traced('topic', keys, () => topic.reconcileBatch(keys)),
      this.hooks('topic'),
    );
    this.autoscalerController = new Controller(
      { name: 'consumerautoscaler', ...controllerOpts },
      (keys) => traced('consumerautoscaler', keys, () => autoscaler.reconcileBatch(keys)),
      this.hooks('consumerautoscaler'),
    );
    this.elector = new LeaderElector(kube, opts.lease, opts.identity, opts.lease, {
      onStartedLeading: () => this.lead(true),
      onStoppedLeading: () => this.lead(false),
      onError: (err) => log.warn({ err }, 'leader election: API server call failed'),
    });
  }

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  get identity(): string {
    return this.elector.identity;
  }

  start(): void {
    this.log.info({ identity: this.elector.identity }, 'campaigning for leadership');
    this.elector.start();
  }

  /**
   * Graceful stop: stop reconciling, then release the Lease. `release: false` simulates a crash
   * (the Lease is left to expire), for failover tests.
   */
  async stop(release = true): Promise<void> {
    await this.elector.stop(release);
    await this.transition;
  }

  private hooks(controller: ControllerName) {
    return {
      outcome: (key: string, outcome: Outcome) => {
        this.metrics.outcome(controller, outcome);
        if (outcome.kind === 'error')
          this.log.warn({ controller, key, err: outcome.error }, 'reconcile failed; backing off');
      },
      batch: (_keys: number, seconds: number) =>
        this.metrics.reconcileDuration.labels(controller).observe(seconds),
    };
  }

  private lead(leading: boolean): Promise<void> {
    this.transition = this.transition.then(async () => {
      this.metrics.leader.set(leading ? 1 : 0);
      if (leading) {
        this.log.info({ identity: this.elector.identity }, 'became leader: reconciling');
        this.topicController.start();
        this.autoscalerController.start();
        this.topics.start();
        this.autoscalers.start();
      } else {
        this.log.info({ identity: this.elector.identity }, 'stopped leading: reconciling stops');
        await Promise.all([this.topics.stop(), this.autoscalers.stop()]);
        await Promise.all([this.topicController.stop(), this.autoscalerController.stop()]);
      }
    });
    return this.transition;
  }
}

/** One span per reconcile batch (Kafka and API server calls happen inside it). */
function traced<T>(controller: ControllerName, keys: readonly string[], run: () => Promise<T>): Promise<T> {
  return inSpan(
    `reconcile ${controller}`,
    { attributes: { 'parley.controller': controller, 'parley.batch.size': keys.length } },
    run,
  );
}
