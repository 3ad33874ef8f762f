/**
 * How often a consumer commits what it handled: at most once per this many ms per group, with
 * the batch that crosses it or a timer, instead of an OffsetCommit request per batch. A crash or
 * a rebalance redelivers at most these batches, which every consumer handles at least once
 * anyway (the embedded log does the same: OFFSET_FLUSH_MS).
 */
export const OFFSET_COMMIT_MS = 200;

export type PartitionOffset = { topic: string; partition: number; offset: string };

/** One consumer's handled offsets not yet committed, committed at most every OFFSET_COMMIT_MS. */
export class OffsetCommits {
  private readonly pending = new Map<string, PartitionOffset>();
  private lastAt = 0;
  stopping = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onError: (err: unknown) => void) {}

  /** A batch of a partition was handled: `next` is the offset to resume from. */
  handled(topic: string, partition: number, next: string): void {
    this.pending.set(key(topic, partition), { topic, partition, offset: next });
  }

  /** Whether what is pending should be committed now (stopping, or none for OFFSET_COMMIT_MS). */
  due(now = Date.now()): boolean {
    return this.stopping || now - this.lastAt >= OFFSET_COMMIT_MS;
  }

  /** Commits everything pending through `send` (kept pending should it fail). */
  async commit(send: (offsets: PartitionOffset[]) => Promise<unknown>): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const offsets = [...this.pending.values()];
    this.pending.clear();
    this.lastAt = Date.now();
    try {
      await send(offsets);
    } catch (err) {
      // Not lost: put back unless a newer offset of the partition came meanwhile.
      for (const o of offsets)
        if (!this.pending.has(key(o.topic, o.partition))) this.pending.set(key(o.topic, o.partition), o);
      this.onError(err);
    }
  }

  /** Commits through `send` once OFFSET_COMMIT_MS have passed since the last commit. */
  later(send: (offsets: PartitionOffset[]) => Promise<unknown>): void {
    this.timer ??= setTimeout(
      () => {
        this.timer = undefined;
        void this.commit(send);
      },
      Math.max(0, this.lastAt + OFFSET_COMMIT_MS - Date.now()),
    ).unref();
  }

  /** Forgets what is pending (a rebalance: those batches are redelivered). */
  drop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** kafkajs's commit shape: partitions grouped by topic. */
export function byTopic(
  offsets: readonly PartitionOffset[],
): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const topics = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) {
    const list = topics.get(o.topic) ?? [];
    list.push({ partition: o.partition, offset: o.offset });
    topics.set(o.topic, list);
  }
  return [...topics].map(([topic, partitions]) => ({ topic, partitions }));
}
