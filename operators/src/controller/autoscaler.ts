/**
 * The ConsumerAutoscaler controller, every pollingIntervalSeconds per resource: observe (offsets
 * from Kafka, the Deployment and its scale subresource) → decide (`POLICIES[spec.policy]`, pure) →
 * act (write the scale subresource when the count changes, with an Event) → report (status,
 * metrics). Policy state (recommendation history, learned capacity, last snapshot) lives in memory
 * per key, as in the HPA controller; a new leader starts it afresh.
 */
import type { Logger } from '@parley/common';
import { observe, type OffsetSnapshot } from '../autoscale/observe.ts';
import {
  autoscalerConditions,
  INITIAL_STATE,
  POLICIES,
  type AutoscaleInput,
  type AutoscaleState,
  type Decision,
} from '../autoscale/policy.ts';
import {
  AUTOSCALER_DEFAULTS,
  CONSUMER_AUTOSCALER_KIND,
  validateAutoscalerSpec,
  type ConsumerAutoscaler,
  type ConsumerAutoscalerStatus,
} from '../autoscale/types.ts';
import { upsertCondition } from '../meta.ts';
import { CONSUMER_AUTOSCALERS } from '../kube/kinds.ts';
import type { KubePort } from '../kube/port.ts';
import type { OperatorMetrics } from '../metrics.ts';
import type { Informer } from './informer.ts';
import type { Outcome } from './queue.ts';
import { Reporter } from './report.ts';
import { messageOf, replacing } from './topic.ts';

/** What the autoscaler needs from Kafka (KafkaTopics implements it). */
export interface OffsetSource {
  offsets(groupId: string, topics: readonly string[]): Promise<OffsetSnapshot>;
}

interface Memory {
  state: AutoscaleState;
  snapshot?: OffsetSnapshot;
}

export class AutoscalerReconciler {
  private readonly memory = new Map<string, Memory>();
  private readonly reporter: Reporter<ConsumerAutoscaler>;

  constructor(
    private readonly kube: KubePort,
    private readonly kafka: OffsetSource,
    private readonly informer: Informer<ConsumerAutoscaler>,
    private readonly metrics: OperatorMetrics,
    private readonly log: Logger,
    component: string,
  ) {
    this.reporter = new Reporter(
      kube,
      CONSUMER_AUTOSCALERS,
      CONSUMER_AUTOSCALER_KIND,
      informer,
      component,
      log,
    );
  }

  async reconcileBatch(keys: string[]): Promise<Map<string, Outcome>> {
    const outcomes = new Map<string, Outcome>();
    await Promise.all(
      keys.map(async (key) => {
        try {
          outcomes.set(key, await this.reconcile(key));
        } catch (error) {
          outcomes.set(key, { kind: 'error', error });
        }
      }),
    );
    return outcomes;
  }

  /** Forgets a deleted resource's policy state and metric series. */
  forget(key: string, namespace: string, name: string): void {
    this.memory.delete(key);
    this.metrics.forgetAutoscaler(namespace, name);
  }

  private async reconcile(key: string): Promise<Outcome> {
    const resource = this.informer.get(key);
    if (!resource || resource.metadata.deletionTimestamp) return { kind: 'ok' };
    const { namespace = '', name } = resource.metadata;
    const log = this.log.child({ autoscaler: `${namespace}/${name}` });
    const validated = validateAutoscalerSpec(resource.spec);
    const pollMs =
      1000 *
      (validated.ok ? validated.value.pollingIntervalSeconds : AUTOSCALER_DEFAULTS.pollingIntervalSeconds);
    const memory = this.memory.get(key) ?? { state: INITIAL_STATE };
    const now = Date.now();

    let input: AutoscaleInput = {
      now,
      partitions: [],
      currentReplicas: 0,
      readyReplicas: 0,
      target: 'present',
    };
    let snapshot: OffsetSnapshot | undefined;
    let scaleVersion = '';
    if (validated.ok) {
      const spec = validated.value;
      const [deployment, scale] = await Promise.all([
        this.kube.getDeployment(namespace, spec.scaleTargetRef.name),
        this.kube.getDeploymentScale(namespace, spec.scaleTargetRef.name),
      ]);
      try {
        snapshot = await this.kafka.offsets(spec.consumerGroup, spec.topics);
      } catch (error) {
        await this.writeStatus(resource, {
          conditions: upsertCondition(resource.status?.conditions, {
            type: 'Ready',
            status: 'False',
            reason: 'KafkaError',
            message: messageOf(error),
            lastTransitionTime: new Date(now).toISOString(),
            observedGeneration: resource.metadata.generation,
          }),
        });
        throw error;
      }
      scaleVersion = scale?.resourceVersion ?? '';
      input = {
        now,
        ...observe(memory.snapshot, snapshot),
        currentReplicas: scale?.replicas ?? deployment?.replicas ?? 0,
        readyReplicas: deployment?.readyReplicas ?? 0,
        target: !deployment || !scale ? 'missing' : deployment.paused ? 'paused' : 'present',
      };
    }

    const policy = POLICIES[validated.ok ? validated.value.policy : 'Lag'];
    const decision = policy(input, resource.spec, memory.state);
    this.memory.set(key, { state: decision.state, snapshot: snapshot ?? memory.snapshot });
    this.metrics.lag.labels(namespace, name).set(decision.totalLag);
    this.metrics.desiredReplicas.labels(namespace, name).set(decision.desiredReplicas);

    let current = input.currentReplicas;
    let lastScaleTime = resource.status?.lastScaleTime;
    if (validated.ok && input.target === 'present' && decision.desiredReplicas !== current) {
      const target = validated.value.scaleTargetRef.name;
      await this.kube.updateDeploymentScale(namespace, target, decision.desiredReplicas, scaleVersion);
      const direction = decision.desiredReplicas > current ? 'up' : 'down';
      this.metrics.scaleEvents.labels(namespace, name, direction).inc();
      lastScaleTime = new Date(now).toISOString();
      log.info({ from: current, to: decision.desiredReplicas, reason: decision.message }, 'scaled');
      await this.event(resource, decision, current);
      current = decision.desiredReplicas;
    }

    await this.writeStatus(resource, {
      observedGeneration: resource.metadata.generation,
      totalLag: decision.totalLag,
      lagByTopic: replacing(resource.status?.lagByTopic, decision.lagByTopic),
      stuckPartitions: decision.stuckPartitions,
      desiredReplicas: decision.desiredReplicas,
      currentReplicas: current,
      ...(lastScaleTime ? { lastScaleTime } : {}),
      conditions: autoscalerConditions(
        decision,
        resource.metadata.generation,
        new Date(now),
        resource.status?.conditions,
      ),
    });
    // A bad spec waits for the user to change it; everything else is polled.
    return decision.reason === 'InvalidSpec' ? { kind: 'terminal' } : { kind: 'ok', requeueAfterMs: pollMs };
  }

  private writeStatus(resource: ConsumerAutoscaler, status: ConsumerAutoscalerStatus): Promise<void> {
    return this.reporter.status(resource, status);
  }

  private event(resource: ConsumerAutoscaler, decision: Decision, from: number): Promise<void> {
    return this.reporter.event(resource, {
      type: 'Normal',
      reason: decision.desiredReplicas > from ? 'ScaledUp' : 'ScaledDown',
      message: `Scaled ${resource.spec.scaleTargetRef.name} from ${from} to ${decision.desiredReplicas}: ${decision.message}`,
    });
  }
}
