/**
 * The event log port: partitioned, ordered-per-key topics with consumer groups and committed
 * offsets (Kafka semantics). Delivery is at least once: a batch whose handler throws is delivered
 * again, and offsets are committed only after the handler resolved.
 */

export interface LogRecord {
  /** Partitioning key: records with one key stay in order. */
  key: string;
  value: Buffer | string;
  headers?: Readonly<Record<string, string>>;
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  /** Decimal string, as Kafka offsets exceed 2^53 in theory. */
  offset: string;
  key: string;
  value: Buffer;
  headers: Readonly<Record<string, string>>;
  timestamp: number;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor?: number;
  config?: Readonly<Record<string, string>>;
}

export interface SubscribeOptions {
  groupId: string;
  topics: readonly string[];
  /** Where a group with no committed offset starts: earliest (true) or latest (false, default). */
  fromBeginning?: boolean;
  /**
   * Receives records of one topic-partition in offset order. Resolving commits up to the last
   * record; throwing redelivers the batch after a backoff.
   */
  handler: (batch: readonly ConsumedRecord[]) => Promise<void>;
  /** Largest batch handed to the handler. */
  maxBatch?: number;
  /**
   * How many of this member's partitions are handled at once (Kafka; default 1). The handler is
   * then called concurrently for different partitions, each still in offset order. The embedded
   * log hands batches over one at a time whatever this says.
   */
  partitionsAtOnce?: number;
}

export interface Subscription {
  /** Finishes the batch in flight, commits, and leaves the group. */
  stop(): Promise<void>;
}

export interface EventLog {
  readonly kind: 'kafka' | 'embedded';
  /** Creates missing topics; existing ones are left alone (idempotent). */
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  /** Resolves once every record is durably acknowledged (acks=all for Kafka). */
  produce(topic: string, records: readonly LogRecord[]): Promise<void>;
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  /** Committed offset of a group per partition (-1 when none), for lag and tests. */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>>;
  /** The next offset to be written per partition. */
  endOffsets(topic: string): Promise<Map<number, bigint>>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Embedded log: ms until its next commit, which its appends wait for (undefined when none is
   * scheduled). A writer sharing that commit can write just before it (worker/direct.ts).
   */
  commitDueInMs?(): number | undefined;
}

/** Kafka's default partitioner is murmur2; in-process we only need a stable spread. */
export function partitionFor(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

export function checkTopic(name: string): string {
  if (!TOPIC.test(name) || name === '.' || name === '..')
    throw new Error(`topic name "${name}" must be 1-249 of [A-Za-z0-9._-]`);
  return name;
}

/** Assigns partitions to group members round-robin (members sorted for determinism). */
export function assignPartitions(
  members: readonly string[],
  topicPartitions: readonly { topic: string; partitions: number }[],
): Map<string, { topic: string; partition: number }[]> {
  const sorted = [...members].sort();
  const out = new Map(sorted.map((m) => [m, [] as { topic: string; partition: number }[]]));
  let i = 0;
  for (const tp of [...topicPartitions].sort((a, b) => a.topic.localeCompare(b.topic)))
    for (let p = 0; p < tp.partitions; p++)
      out.get(sorted[i++ % sorted.length]!)!.push({ topic: tp.topic, partition: p });
  return out;
}
