/**
 * The Topic controller: observe (the resource from the informer cache, the topics from Kafka, the
 * whole batch in one round of requests) → plan (`planTopicDeletion`, `planTopic`, pure) → act (Kafka
 * adapter, finalizers) → report (status, Events). Level-based: Kafka is re-read on every reconcile.
 */
import type { Logger } from '@parley/common';
import type { Condition } from '../meta.ts';
import {
  conditionsFor,
  eventsFor,
  isTerminal,
  planTopic,
  planTopicDeletion,
  resolvedTopicName,
  type ObservedTopic,
  type TopicAction,
  type TopicOutcome,
} from '../topic/plan.ts';
import { TOPIC_FINALIZER, TOPIC_KIND, type Topic, type TopicStatus } from '../topic/types.ts';
import { TOPICS } from '../kube/kinds.ts';
import type { KubePort } from '../kube/port.ts';
import type { Informer } from './informer.ts';
import type { Outcome } from './queue.ts';
import { Reporter } from './report.ts';

/** What the Topic controller needs from Kafka (KafkaTopics implements it). */
export interface TopicStore {
  observeMany(names: readonly string[]): Promise<Map<string, ObservedTopic>>;
  apply(action: TopicAction, observed: ObservedTopic | undefined): Promise<void>;
  delete(name: string): Promise<void>;
}

export interface TopicControllerOptions {
  /** Re-read Kafka this often even without changes, to revert drift. */
  resyncMs: number;
  /** Reported as the Events' source. */
  component: string;
}

export class TopicReconciler {
  private readonly reporter: Reporter<Topic>;

  constructor(
    private readonly kube: KubePort,
    private readonly kafka: TopicStore,
    private readonly informer: Informer<Topic>,
    private readonly log: Logger,
    private readonly opts: TopicControllerOptions,
  ) {
    this.reporter = new Reporter(kube, TOPICS, TOPIC_KIND, informer, opts.component, log);
  }

  /** One batch: one Kafka observation round for every key, then each key on its own. */
  async reconcileBatch(keys: string[]): Promise<Map<string, Outcome>> {
    const resources = keys.map((key) => [key, this.informer.get(key)] as const);
    const names = resources.flatMap(([, r]) => (r ? [resolvedTopicName(r)] : []));
    const outcomes = new Map<string, Outcome>();
    let observed: Map<string, ObservedTopic>;
    try {
      observed = await this.kafka.observeMany(names);
    } catch (error) {
      // Kafka unreachable: every key of the batch backs off; Ready says why.
      await Promise.all(
        resources.map(async ([key, r]) => {
          if (r) await this.report(r, { kind: 'failed', reason: 'KafkaError', message: messageOf(error) });
          outcomes.set(key, { kind: 'error', error });
        }),
      );
      return outcomes;
    }
    const claims = this.claims();
    await Promise.all(
      resources.map(async ([key, r]) => {
        if (!r) return outcomes.set(key, { kind: 'ok' }); // deleted: nothing left to do
        try {
          outcomes.set(key, await this.reconcile(r, observed.get(resolvedTopicName(r)), claims));
        } catch (error) {
          outcomes.set(key, { kind: 'error', error });
        }
      }),
    );
    return outcomes;
  }

  /** Kafka topic name → the oldest Topic naming it (Strimzi's rule): the others get ResourceConflict. */
  private claims(): Map<string, string> {
    const oldest = new Map<string, Topic>();
    for (const t of this.informer.values()) {
      const name = resolvedTopicName(t);
      const held = oldest.get(name);
      const older =
        !held ||
        (t.metadata.creationTimestamp ?? '') < (held.metadata.creationTimestamp ?? '') ||
        ((t.metadata.creationTimestamp ?? '') === (held.metadata.creationTimestamp ?? '') &&
          qualified(t) < qualified(held));
      if (older) oldest.set(name, t);
    }
    return new Map([...oldest].map(([name, t]) => [name, qualified(t)]));
  }

  private async reconcile(
    resource: Topic,
    observed: ObservedTopic | undefined,
    claims: Map<string, string>,
  ): Promise<Outcome> {
    const name = resolvedTopicName(resource);
    const log = this.log.child({ topic: qualified(resource), kafkaTopic: name });
    const claimedBy = claims.get(name);
    let current = resource;

    const deletion = planTopicDeletion(current, observed, { claimedBy });
    for (const action of deletion.actions) {
      if (action.kind === 'deleteTopic') {
        await this.kafka.delete(action.topicName);
        log.info({ policy: 'Delete' }, 'deleted Kafka topic');
      } else current = await this.setFinalizer(current, action.kind === 'addFinalizer');
    }
    if (deletion.deleting) {
      log.info({ message: deletion.message }, 'resource deleted');
      return { kind: 'ok' };
    }

    const plan = planTopic(current, observed, { claimedBy });
    if (plan.kind === 'actions') {
      try {
        for (const action of plan.actions) await this.kafka.apply(action, observed);
      } catch (error) {
        await this.report(current, { kind: 'failed', reason: 'KafkaError', message: messageOf(error) });
        throw error;
      }
      // A topic this reconcile created has its id only now: Kafka assigns it.
      const created = plan.actions.some((a) => a.kind === 'create');
      const topicId = created
        ? (await this.kafka.observeMany([plan.spec.topicName])).get(plan.spec.topicName)?.topicId
        : observed?.topicId;
      const status: TopicStatus = {
        topicName: plan.spec.topicName,
        topicId,
        partitions: plan.spec.partitions,
        replicationFactor: plan.spec.replicationFactor,
        appliedConfig: replacing(current.status?.appliedConfig, plan.spec.config),
      };
      const changed = plan.actions.some((a) => a.kind !== 'none');
      if (changed) log.info({ actions: plan.actions.map((a) => a.kind) }, 'reconciled');
      await this.report(current, plan, status);
      return { kind: 'ok', requeueAfterMs: this.opts.resyncMs };
    }
    log.warn({ outcome: plan.kind, message: plan.message }, 'not reconciled');
    await this.report(current, plan);
    return isTerminal(plan) ? { kind: 'terminal' } : { kind: 'ok' };
  }

  private async setFinalizer(resource: Topic, present: boolean): Promise<Topic> {
    const others = (resource.metadata.finalizers ?? []).filter((f) => f !== TOPIC_FINALIZER);
    const updated = await this.kube.setFinalizers<Topic>(
      TOPICS,
      resource.metadata.namespace ?? '',
      resource.metadata.name,
      present ? [...others, TOPIC_FINALIZER] : others,
      resource.metadata.resourceVersion ?? '',
    );
    this.informer.remember(updated);
    return updated;
  }

  /** Writes status (conditions, observedGeneration and what Kafka now has) and the plan's Events. */
  private async report(resource: Topic, outcome: TopicOutcome, fields: TopicStatus = {}): Promise<void> {
    const previous = resource.status?.conditions;
    const conditions = conditionsFor(outcome, resource.metadata.generation, new Date(), previous);
    const status: TopicStatus = {
      ...fields,
      conditions,
      observedGeneration: resource.metadata.generation,
    };
    await this.reporter.status(resource, status);
    // A refusal is reported once per change, not on every resync or restart.
    const events =
      outcome.kind === 'refused' && sameReady(previous, conditions) ? [] : plannedEvents(outcome);
    for (const e of events) await this.reporter.event(resource, e);
  }
}

/**
 * A map for a merge patch that must end up equal to `next`: merge patches merge maps, so keys that
 * are gone are sent as null.
 */
export function replacing<V>(
  previous: Record<string, V> | undefined,
  next: Record<string, V>,
): Record<string, V> {
  const out: Record<string, V | null> = { ...next };
  for (const key of Object.keys(previous ?? {})) if (!(key in next)) out[key] = null;
  return out as Record<string, V>;
}

function plannedEvents(outcome: TopicOutcome) {
  return outcome.kind === 'failed' ? [] : eventsFor(outcome);
}

function sameReady(previous: readonly Condition[] | undefined, next: readonly Condition[]): boolean {
  const a = previous?.find((c) => c.type === 'Ready');
  const b = next.find((c) => c.type === 'Ready');
  return (
    !!a &&
    !!b &&
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.observedGeneration === b.observedGeneration
  );
}

function qualified(t: Topic): string {
  return t.metadata.namespace ? `${t.metadata.namespace}/${t.metadata.name}` : t.metadata.name;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
