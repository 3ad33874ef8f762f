import { Admin as IdAdmin } from '@platformatic/kafka';
import kafkajs, { Kafka, logLevel, type Admin } from 'kafkajs';
import type { OffsetSample, OffsetSnapshot } from '../autoscale/observe.ts';
import type { OffsetSource } from '../controller/autoscaler.ts';
import type { TopicStore } from '../controller/topic.ts';
import type { ConfigSource, ObservedConfigEntry, ObservedTopic, TopicAction } from '../topic/plan.ts';

// Node's ESM loader cannot see this CommonJS export by name (only under mocha's loader it worked).
const { ConfigResourceTypes } = kafkajs;

// Kafka's DescribeConfigs configSource numbers (KIP-226).
const SOURCES: Record<number, ConfigSource> = {
  1: 'DYNAMIC_TOPIC_CONFIG',
  2: 'DYNAMIC_BROKER_CONFIG',
  3: 'DYNAMIC_DEFAULT_BROKER_CONFIG',
  4: 'STATIC_BROKER_CONFIG',
  5: 'DEFAULT_CONFIG',
  6: 'DYNAMIC_BROKER_LOGGER_CONFIG',
};

export class KafkaActionError extends Error {
  constructor(
    readonly action: TopicAction['kind'],
    readonly topicName: string,
    cause: unknown,
  ) {
    super(`${action} on "${topicName}" failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'KafkaActionError';
  }
}

/**
 * The operator's Kafka side (kafkajs admin): observe a topic as the planner needs it, and run the
 * planner's actions. Permissions needed: Describe, Create, Alter and AlterConfigs on the topics
 * it manages, DescribeConfigs, and Delete only for deletionPolicy Delete.
 */
export class KafkaTopics implements TopicStore, OffsetSource {
  private connecting: Promise<void> | undefined;

  private constructor(
    private readonly admin: Admin,
    /**
     * Topic ids: kafkajs speaks Metadata versions without them, @platformatic/kafka speaks v12.
     * One more connection, used for one Metadata request per observation round.
     */
    private readonly ids: IdAdmin,
  ) {
    // A lost connection is made again by the next call, whatever it is.
    admin.on(admin.events.DISCONNECT, () => (this.connecting = undefined));
  }

  /**
   * An adapter that connects on first use, and again after a failure: the operator runs, watches
   * and reports `KafkaError` on its resources while Kafka is away, instead of exiting.
   */
  static create(brokers: readonly string[], clientId = 'parley-operator'): KafkaTopics {
    return new KafkaTopics(
      new Kafka({
        clientId,
        brokers: [...brokers],
        logLevel: logLevel.NOTHING,
        retry: { retries: 3 },
      }).admin(),
      new IdAdmin({ clientId, bootstrapBrokers: [...brokers], retries: 3 }),
    );
  }

  /** `create`, then connect now (throws when Kafka cannot be reached). */
  static async connect(brokers: readonly string[], clientId = 'parley-operator'): Promise<KafkaTopics> {
    const topics = KafkaTopics.create(brokers, clientId);
    await topics.ready();
    return topics;
  }

  /** Connects unless connected; a failed attempt is forgotten so the next call tries again. */
  ready(): Promise<void> {
    this.connecting ??= this.admin.connect().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  /** The topic as Kafka reports it (with its topic id), or undefined when it does not exist. */
  async observe(name: string): Promise<ObservedTopic | undefined> {
    return (await this.observeMany([name])).get(name);
  }

  /**
   * A batch of topics in four requests (Metadata, Metadata twice, DescribeConfigs) whatever their
   * number: the Topic controller observes every topic of a reconcile batch at once.
   */
  async observeMany(names: readonly string[]): Promise<Map<string, ObservedTopic>> {
    await this.ready();
    const existing = new Set(await this.admin.listTopics());
    const wanted = [...new Set(names)].filter((n) => existing.has(n));
    const out = new Map<string, ObservedTopic>();
    if (wanted.length === 0) return out;
    const [meta, withIds] = await Promise.all([
      this.admin.fetchTopicMetadata({ topics: wanted }),
      this.ids.metadata({ topics: wanted, forceUpdate: true }),
    ]);
    const described = await this.admin.describeConfigs({
      includeSynonyms: false,
      resources: wanted.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    });
    for (const t of meta.topics) {
      const replicationFactor = Math.min(...t.partitions.map((p) => p.replicas.length));
      const config: Record<string, ObservedConfigEntry> = {};
      const entries = described.resources.find((r) => r.resourceName === t.name)?.configEntries ?? [];
      for (const e of entries) {
        const source = (e as { configSource?: number }).configSource;
        config[e.configName] = {
          value: e.configValue ?? null,
          source:
            source === undefined
              ? e.isDefault
                ? 'DEFAULT_CONFIG'
                : 'UNKNOWN'
              : (SOURCES[source] ?? 'UNKNOWN'),
        };
      }
      out.set(t.name, {
        name: t.name,
        topicId: withIds.topics.get(t.name)?.id ?? '',
        partitions: t.partitions.length,
        replicationFactor,
        config,
      });
    }
    return out;
  }

  /** Runs one planned action. "Already exists" counts as success. */
  async apply(action: TopicAction, observed: ObservedTopic | undefined): Promise<void> {
    try {
      await this.ready();
      switch (action.kind) {
        case 'create':
          try {
            await this.admin.createTopics({
              waitForLeaders: true,
              topics: [
                {
                  topic: action.topicName,
                  numPartitions: action.partitions,
                  replicationFactor: action.replicationFactor,
                  configEntries: Object.entries(action.config).map(([name, value]) => ({ name, value })),
                },
              ],
            });
          } catch (err) {
            if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
          }
          return;
        case 'createPartitions':
          await this.admin.createPartitions({
            topicPartitions: [{ topic: action.topicName, count: action.to }],
          });
          return;
        case 'alterConfigs': {
          // AlterConfigs (what kafkajs speaks) replaces the topic's whole dynamic config set, so
          // send every key that must stay, plus the changes, minus the removals.
          const keep = Object.entries(observed?.config ?? {})
            .filter(
              ([k, e]) =>
                e.source === 'DYNAMIC_TOPIC_CONFIG' && !action.delete.includes(k) && e.value !== null,
            )
            .map(([k, e]) => [k, e.value!] as const);
          const entries = new Map<string, string>([...keep, ...Object.entries(action.set)]);
          await this.admin.alterConfigs({
            validateOnly: false,
            resources: [
              {
                type: ConfigResourceTypes.TOPIC,
                name: action.topicName,
                configEntries: [...entries].map(([name, value]) => ({ name, value })),
              },
            ],
          });
          return;
        }
        case 'adopt':
        case 'none':
          return;
      }
    } catch (err) {
      throw new KafkaActionError(action.kind, action.topicName, err);
    }
  }

  /**
   * One offset snapshot of a consumer group over its topics, for the autoscaler's `observe`:
   * committed offset (null where the group never committed), log start and end per partition.
   */
  async offsets(groupId: string, topics: readonly string[], now = Date.now()): Promise<OffsetSnapshot> {
    await this.ready();
    const committed = await this.admin.fetchOffsets({ groupId, topics: [...topics] });
    const byTp = new Map<string, number | null>();
    for (const t of committed)
      for (const p of t.partitions)
        byTp.set(`${t.topic}/${p.partition}`, Number(p.offset) < 0 ? null : Number(p.offset));
    const partitions: OffsetSample[] = [];
    for (const topic of topics)
      for (const p of await this.admin.fetchTopicOffsets(topic))
        partitions.push({
          topic,
          partition: p.partition,
          committedOffset: byTp.get(`${topic}/${p.partition}`) ?? null,
          logStartOffset: Number(p.low),
          logEndOffset: Number(p.high),
        });
    return {
      at: now,
      partitions: partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
    };
  }

  async delete(name: string): Promise<void> {
    await this.ready();
    try {
      await this.admin.deleteTopics({ topics: [name] });
    } catch (err) {
      if ((err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.admin.disconnect(), this.ids.close()]);
  }
}
