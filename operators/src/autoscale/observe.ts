import type { AutoscaleInput, PartitionLag } from './policy.ts';

/** Offsets of one partition as Kafka's admin API lists them for the group. */
export interface OffsetSample {
  topic: string;
  partition: number;
  /** null: the group never committed on this partition. */
  committedOffset: number | null;
  logStartOffset: number;
  logEndOffset: number;
}

export interface OffsetSnapshot {
  /** Milliseconds since the epoch. */
  at: number;
  partitions: OffsetSample[];
}

/**
 * Turns two consecutive offset snapshots into the policy's lag and rates: produced = growth of the
 * log end offsets, consumed = growth of the committed offsets, both per second over the interval.
 */
export function observe(
  previous: OffsetSnapshot | undefined,
  current: OffsetSnapshot,
): Pick<AutoscaleInput, 'partitions' | 'produceRate' | 'consumeRate'> {
  const partitions: PartitionLag[] = current.partitions.map((p) => ({
    topic: p.topic,
    partition: p.partition,
    lag: p.committedOffset === null ? null : Math.max(0, p.logEndOffset - p.committedOffset),
    committedOffset: p.committedOffset,
    logSize: p.logEndOffset - p.logStartOffset,
  }));
  const seconds = previous ? (current.at - previous.at) / 1000 : 0;
  if (!previous || seconds <= 0) return { partitions };
  const before = new Map(previous.partitions.map((p) => [`${p.topic}/${p.partition}`, p]));
  let produced = 0;
  let consumed = 0;
  for (const p of current.partitions) {
    const old = before.get(`${p.topic}/${p.partition}`);
    if (!old) continue; // a partition added since the last poll has no rate yet
    produced += Math.max(0, p.logEndOffset - old.logEndOffset);
    if (p.committedOffset !== null && old.committedOffset !== null) {
      consumed += Math.max(0, p.committedOffset - old.committedOffset);
    }
  }
  return { partitions, produceRate: produced / seconds, consumeRate: consumed / seconds };
}
