import client from 'prom-client';
import { HotCounter, HotHistogram } from '../hotmetrics.ts';

/**
 * The event log's series, the same for the Kafka and the embedded adapter: what this process
 * produced and consumed per topic, what failed, and each assigned partition's lag as the consumer
 * sees it. Labels are topics, consumer groups and partition numbers: bounded by configuration.
 */
export class EventLogMetrics {
  readonly produced: client.Counter<'topic'>;
  readonly produceErrors: client.Counter<'topic'>;
  readonly produceSeconds: client.Histogram<'topic'>;
  readonly consumed: client.Counter<'topic' | 'group'>;
  readonly handlerErrors: client.Counter<'topic' | 'group'>;
  readonly lag: client.Gauge<'topic' | 'partition' | 'group'>;
  /** Requests this process sent to Kafka, by API (Produce, Fetch, OffsetCommit, ...). */
  readonly kafkaRequests: client.Counter<'api'>;
  /** produced and produceSeconds, once a produce call (hotmetrics.ts). */
  private readonly hotProduced: HotCounter<'topic'>;
  private readonly hotProduceSeconds: HotHistogram<'topic'>;
  private readonly assigned = new Map<string, Set<number>>();
  private readonly primedTopics = new Set<string>();
  /**
   * What handled() saw since the last scrape, applied to `consumed` and `lag` when they are
   * collected: a batch costs two map writes instead of two prom-client label lookups and the
   * BigInt arithmetic of the lag, which at a batch every few messages was 1% of the embedded
   * server's CPU (#19).
   */
  private readonly handledSince = new Map<string, { topic: string; group: string; records: number }>();
  private readonly lagSince = new Map<
    string,
    { topic: string; partition: number; group: string; lastOffset: string; highWatermark: string }
  >();

  constructor(registry: client.Registry) {
    const registers = [registry];
    this.produced = new client.Counter({
      name: 'parley_eventlog_records_produced_total',
      help: 'Records the event log acknowledged to this process (acks=all on Kafka), by topic.',
      labelNames: ['topic'],
      registers,
    });
    this.produceErrors = new client.Counter({
      name: 'parley_eventlog_produce_errors_total',
      help: 'Produce calls that failed or timed out, by topic (their records may still land; callers retry with the same ids).',
      labelNames: ['topic'],
      registers,
    });
    this.produceSeconds = new client.Histogram({
      name: 'parley_eventlog_produce_duration_seconds',
      help: 'Time from a produce call to its acknowledgement (or failure), by topic.',
      labelNames: ['topic'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.consumed = new client.Counter({
      name: 'parley_eventlog_records_consumed_total',
      help: 'Records whose handler finished in this process, by topic and consumer group.',
      labelNames: ['topic', 'group'],
      registers,
      collect: () => this.applyHandled(),
    });
    this.handlerErrors = new client.Counter({
      name: 'parley_eventlog_handler_errors_total',
      help: 'Batches whose handler threw (they are redelivered after a backoff), by topic and consumer group.',
      labelNames: ['topic', 'group'],
      registers,
    });
    this.kafkaRequests = new client.Counter({
      name: 'parley_kafka_requests_total',
      help: 'Requests this process sent to Kafka brokers (producer, consumers and admin), by API name; 0 in embedded mode.',
      labelNames: ['api'],
      registers,
    });
    this.lag = new client.Gauge({
      name: 'parley_eventlog_consumer_lag',
      help: 'Records after the last one this process handled, per assigned partition, as of its last fetch (the high watermark then); only partitions assigned to this process.',
      labelNames: ['topic', 'partition', 'group'],
      registers,
      collect: () => this.applyLag(),
    });
    this.hotProduced = new HotCounter(this.produced, 'topic');
    this.hotProduceSeconds = new HotHistogram(this.produceSeconds, 'topic');
  }

  private applyHandled(): void {
    for (const h of this.handledSince.values()) this.consumed.labels(h.topic, h.group).inc(h.records);
    this.handledSince.clear();
  }

  private applyLag(): void {
    for (const l of this.lagSince.values())
      this.lag
        .labels({ topic: l.topic, partition: String(l.partition), group: l.group })
        .set(consumerLag(l.highWatermark, l.lastOffset));
    this.lagSince.clear();
  }

  /** Registers a topic's producer series at zero (called when topics are ensured). */
  primeTopic(topic: string): void {
    this.produced.labels(topic).inc(0);
    this.produceErrors.labels(topic).inc(0);
    // zero() would reset a histogram that already has observations (another module ensured it).
    if (!this.primedTopics.has(topic)) this.produceSeconds.zero({ topic });
    this.primedTopics.add(topic);
  }

  /** Registers a subscription's consumer series at zero. */
  primeGroup(group: string, topics: readonly string[]): void {
    for (const topic of topics) {
      this.consumed.labels(topic, group).inc(0);
      this.handlerErrors.labels(topic, group).inc(0);
    }
  }

  /** Times one produce call and counts its records or its failure. */
  async timeProduce(topic: string, records: number, send: () => Promise<void>): Promise<void> {
    const start = performance.now();
    try {
      await send();
      this.hotProduced.inc(topic, records);
    } catch (err) {
      this.produceErrors.labels(topic).inc();
      throw err;
    } finally {
      this.hotProduceSeconds.observe(topic, (performance.now() - start) / 1000);
    }
  }

  /**
   * After a rebalance: the lag series of partitions this process now holds start at zero, those it
   * lost are removed (another member reports them now), so sums over pods do not double count.
   */
  assign(group: string, topic: string, partitions: readonly number[]): void {
    const k = groupTopic(group, topic);
    const now = new Set(partitions);
    for (const p of this.assigned.get(k) ?? [])
      if (!now.has(p)) {
        this.lag.remove({ topic, partition: String(p), group });
        this.lagSince.delete(partitionKey(k, p));
      }
    for (const p of now)
      if (!this.assigned.get(k)?.has(p)) this.lag.labels({ topic, partition: String(p), group }).set(0);
    this.assigned.set(k, now);
  }

  /** A batch was handled: count it and update the partition's lag (both as of the next scrape). */
  handled(
    group: string,
    topic: string,
    partition: number,
    records: number,
    lastOffset: string,
    highWatermark: string,
  ): void {
    const k = groupTopic(group, topic);
    const h = this.handledSince.get(k);
    if (h) h.records += records;
    else this.handledSince.set(k, { topic, group, records });
    // Only a partition this process holds has a lag series (a batch may finish after a rebalance).
    if (!this.assigned.get(k)?.has(partition)) return;
    this.lagSince.set(partitionKey(k, partition), { topic, partition, group, lastOffset, highWatermark });
  }

  handlerFailed(group: string, topic: string): void {
    this.handlerErrors.labels(topic, group).inc();
  }

  /** Forgets a group's lag series (the subscription stopped). */
  unassignGroup(group: string): void {
    for (const k of [...this.assigned.keys()]) {
      const [g, topic] = k.split('\u0000') as [string, string];
      if (g !== group) continue;
      this.assign(group, topic, []);
      this.assigned.delete(k);
    }
  }
}

/** The key of a group's topic in `assigned` and `handledSince` (split again by unassignGroup). */
const groupTopic = (group: string, topic: string) => `${group}\u0000${topic}`;
const partitionKey = (groupTopicKey: string, partition: number) => `${groupTopicKey}\u0000${partition}`;

/**
 * Records between the last handled offset and the high watermark (the next offset to be written),
 * never negative. Offsets are decimal strings, as Kafka's may pass 2^53.
 */
export function consumerLag(highWatermark: string, lastHandledOffset: string): number {
  const lag = BigInt(highWatermark) - BigInt(lastHandledOffset) - 1n;
  return lag > 0n ? Number(lag) : 0;
}
