import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type Producer,
  type KafkaConfig,
  CompressionTypes,
  Partitioners,
  type RequestEvent,
} from 'kafkajs';
import {
  checkTopic,
  type ConsumedRecord,
  type EventLog,
  type LogRecord,
  type SubscribeOptions,
  type Subscription,
  type TopicSpec,
} from './port.ts';
import { backoffDelay, type BackoffPolicy } from '../retry.ts';
import type { EventLogMetrics } from './metrics.ts';
import { byTopic, OffsetCommits } from './offsetcommits.ts';
import { ProduceCoalescer } from './coalesce.ts';
// Before any kafkajs client exists: its request queues stop spinning a timer when idle.
import './kafkajsfix.ts';

export interface KafkaEventLogOptions {
  brokers: readonly string[];
  clientId: string;
  /** Passed to kafkajs; tests shorten timeouts. */
  connectionTimeoutMs?: number;
  onHandlerError?: (err: unknown, tp: { topic: string; partition: number }, groupId: string) => void;
  /** How long produce() waits for acks=all before failing (the record may still land later). */
  produceTimeoutMs?: number;
  /** With nothing of a topic in flight, how long produce calls wait to share a request (ms). */
  lingerMs?: number;
  /** How long the group waits for a silent member before reassigning its partitions. */
  sessionTimeoutMs?: number;
  /** kafkajs log lines, mapped by the caller onto its logger. */
  log?: (level: 'error' | 'warn' | 'info' | 'debug', message: string, extra: Record<string, unknown>) => void;
  /** Produce/consume counts, errors and per-partition lag (parley_eventlog_*). */
  metrics?: EventLogMetrics;
}

export class ProduceTimeoutError extends Error {
  constructor(
    readonly topic: string,
    readonly timeoutMs: number,
  ) {
    super(`Kafka did not acknowledge a write to ${topic} within ${timeoutMs} ms`);
    this.name = 'ProduceTimeoutError';
  }
}

/**
 * The production event log over Kafka (kafkajs): an idempotent producer with acks=all, consumer
 * groups that commit only what a handler finished, and the admin API for topics and offsets.
 */
export class KafkaEventLog implements EventLog {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly consumers = new Set<Consumer>();
  /** Produce calls gathered into one send per topic (#19). */
  private readonly coalescer: ProduceCoalescer;

  private constructor(
    private readonly opts: KafkaEventLogOptions,
    kafka: Kafka,
  ) {
    this.kafka = kafka;
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
      // Java's murmur2 partitioner, so other Kafka clients place the same key in the same partition.
      createPartitioner: Partitioners.DefaultPartitioner,
      // The idempotent producer must not give up on its own (kafkajs warns it would break
      // exactly-once); produce() bounds the wait instead and the caller retries with its own id.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    this.admin = kafka.admin();
    const timeoutMs = opts.produceTimeoutMs ?? 10_000;
    this.coalescer = new ProduceCoalescer({
      timeoutMs,
      onTimeout: (topic) => new ProduceTimeoutError(topic, timeoutMs),
      idleLingerMs: opts.lingerMs ?? 0,
      send: async (topic, records) => {
        await this.producer.send({
          topic,
          acks: -1,
          compression: CompressionTypes.None,
          messages: records.map((r) => ({ key: r.key, value: r.value, headers: { ...r.headers } })),
        });
      },
    });
    this.countRequests(this.producer);
    this.countRequests(this.admin);
  }

  /** Counts a kafkajs client's requests by API (parley_kafka_requests_total; bench:cost reads it). */
  private countRequests(client: Producer | Consumer | Admin): void {
    const { metrics } = this.opts;
    if (!metrics) return;
    const count = ({ payload }: RequestEvent) => metrics.kafkaRequests.labels(payload.apiName).inc();
    // The three clients' `on` overloads differ only in their event names' prefixes.
    (client as Producer).on((client as Producer).events.REQUEST, count);
  }

  static async connect(opts: KafkaEventLogOptions): Promise<KafkaEventLog> {
    const toLevel = {
      [logLevel.ERROR]: 'error',
      [logLevel.WARN]: 'warn',
      [logLevel.INFO]: 'info',
      [logLevel.DEBUG]: 'debug',
    } as const;
    const config: KafkaConfig = {
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      connectionTimeout: opts.connectionTimeoutMs ?? 3000,
      // Fail a first connect within seconds; the caller's own backoff takes over from there.
      retry: { retries: 4, initialRetryTime: 100, maxRetryTime: 2000 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => {
        const { message, ...extra } = entry.log;
        const lvl = toLevel[entry.level as keyof typeof toLevel];
        if (lvl) opts.log?.(lvl, `kafkajs ${entry.namespace}: ${message}`, extra);
      },
    };
    const log = new KafkaEventLog(opts, new Kafka(config));
    try {
      await log.admin.connect();
      await log.producer.connect();
    } catch (err) {
      await log.close().catch(() => {});
      throw err;
    }
    return log;
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    await whileRetriable(() => this.createMissing(specs));
    for (const s of specs) this.opts.metrics?.primeTopic(s.name);
  }

  private async createMissing(specs: readonly TopicSpec[]): Promise<void> {
    const existing = new Set(await this.admin.listTopics());
    const missing = specs.filter((s) => !existing.has(checkTopic(s.name)));
    if (missing.length === 0) return;
    try {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.name,
          numPartitions: s.partitions,
          replicationFactor: s.replicationFactor ?? -1,
          configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    } catch (err) {
      // Another replica created it between listTopics and createTopics: that is success.
      if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
    }
  }

  async produce(topic: string, records: readonly LogRecord[]): Promise<void> {
    if (records.length === 0) return;
    const { metrics } = this.opts;
    if (metrics)
      return metrics.timeProduce(topic, records.length, () => this.coalescer.produce(topic, records));
    return this.coalescer.produce(topic, records);
  }

  async subscribe(opts: SubscribeOptions): Promise<Subscription> {
    const sessionTimeoutMs = this.opts.sessionTimeoutMs ?? 10_000;
    const heartbeatIntervalMs = Math.floor(sessionTimeoutMs / 3);
    const consumer = this.kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 1024 * 1024,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs,
      rebalanceTimeout: 2 * sessionTimeoutMs,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5000 },
    });
    if (!opts.fromBeginning) await this.startAtEnd(opts.groupId, opts.topics);
    this.consumers.add(consumer);
    this.countRequests(consumer);
    const { metrics } = this.opts;
    metrics?.primeGroup(opts.groupId, opts.topics);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      for (const topic of opts.topics)
        metrics?.assign(opts.groupId, topic, payload.memberAssignment[topic] ?? []);
    });
    const commits = new OffsetCommits((err) =>
      this.opts.log?.('warn', 'kafka offset commit failed; the next one carries it', {
        groupId: opts.groupId,
        error: String(err),
      }),
    );
    // A rebalance may hand our partitions to another member: what we had not committed is
    // redelivered to it, never committed by us over its progress.
    consumer.on(consumer.events.REBALANCING, () => commits.drop());
    await consumer.connect();
    await consumer.subscribe({ topics: [...opts.topics], fromBeginning: opts.fromBeginning ?? false });
    const maxBatch = opts.maxBatch ?? 500;
    await consumer.run({
      partitionsConsumedConcurrently: opts.partitionsAtOnce ?? 1,
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({
        batch,
        resolveOffset,
        heartbeat,
        isRunning,
        isStale,
        commitOffsetsIfNecessary,
      }) => {
        const all = batch.messages;
        for (let i = 0; i < all.length && isRunning() && !isStale(); i += maxBatch) {
          const slice = all.slice(i, i + maxBatch);
          const records: ConsumedRecord[] = slice.map((m) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key?.toString() ?? '',
            value: m.value ?? Buffer.alloc(0),
            headers: Object.fromEntries(
              Object.entries(m.headers ?? {}).map(([k, v]) => [
                k,
                Array.isArray(v) ? String(v[0]) : String(v ?? ''),
              ]),
            ),
            timestamp: Number(m.timestamp),
          }));
          // kafkajs heartbeats only between batches or when asked: a handler slower than the
          // session timeout (a loaded store) got its member evicted, its commit refused and the
          // batch redelivered to the next member, over and over. Heartbeat while it runs.
          const beat = setInterval(() => heartbeat().catch(() => undefined), heartbeatIntervalMs);
          try {
            await opts.handler(records);
          } catch (err) {
            metrics?.handlerFailed(opts.groupId, batch.topic);
            this.opts.onHandlerError?.(err, { topic: batch.topic, partition: batch.partition }, opts.groupId);
            // kafkajs retries the batch from the last resolved offset after a backoff.
            throw err;
          } finally {
            clearInterval(beat);
          }
          const last = slice[slice.length - 1]!.offset;
          metrics?.handled(
            opts.groupId,
            batch.topic,
            batch.partition,
            slice.length,
            last,
            batch.highWatermark,
          );
          resolveOffset(last);
          commits.handled(batch.topic, batch.partition, (BigInt(last) + 1n).toString());
          if (commits.due())
            await commits.commit((offsets) => commitOffsetsIfNecessary({ topics: byTopic(offsets) }));
          else commits.later((offsets) => consumer.commitOffsets(offsets));
          await heartbeat();
        }
      },
    });
    return {
      stop: async () => {
        // What was handled is committed before leaving: the batch in flight commits at once, the
        // held offsets now.
        commits.stopping = true;
        await commits.commit((offsets) => consumer.commitOffsets(offsets));
        await consumer.disconnect();
        this.consumers.delete(consumer);
        metrics?.unassignGroup(opts.groupId);
      },
    };
  }

  /**
   * A group without committed offsets would start at whatever the end is when it is first assigned
   * a partition, which can be after records produced since subscribe() returned (or during a
   * rebalance). Committing today's end offsets first makes "latest" mean "from now". Fails quietly
   * when the group already has members: they did it.
   */
  private async startAtEnd(groupId: string, topics: readonly string[]): Promise<void> {
    for (const topic of topics) {
      // Right after a topic is created (or a broker restarted) its leaders may not be known yet.
      const [committed, ends] = await whileRetriable(() =>
        Promise.all([this.committedOffsets(groupId, topic), this.admin.fetchTopicOffsets(topic)]),
      );
      const missing = ends.filter((p) => (committed.get(p.partition) ?? -1n) < 0n);
      if (missing.length === 0) continue;
      await this.admin
        .setOffsets({
          groupId,
          topic,
          partitions: missing.map((p) => ({ partition: p.partition, offset: p.high })),
        })
        .catch(() => undefined);
    }
  }

  async committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
    const res = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    const out = new Map<number, bigint>();
    for (const p of res[0]?.partitions ?? []) out.set(p.partition, BigInt(p.offset));
    return out;
  }

  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const res = await this.admin.fetchTopicOffsets(topic);
    return new Map(res.map((p) => [p.partition, BigInt(p.high)]));
  }

  async ping(): Promise<void> {
    await this.admin.describeCluster();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.consumers].map((c) => c.disconnect()));
    this.consumers.clear();
    await Promise.allSettled([this.producer.disconnect(), this.admin.disconnect()]);
  }
}

/**
 * Retries kafkajs errors marked retriable (leaders moving right after a topic is created or a
 * broker restarted) for about 15 s; anything else, or a longer outage, is thrown.
 */
const LEADER_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 1000, factor: 1.5, jitter: 0.2 };

async function whileRetriable<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 20 || !(err as { retriable?: boolean }).retriable) throw err;
      await new Promise((r) => setTimeout(r, backoffDelay(attempt - 1, LEADER_BACKOFF)));
    }
  }
}
