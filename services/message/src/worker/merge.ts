import type { ConsumedRecord } from '@parley/common';

interface Part {
  batch: readonly ConsumedRecord[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The worker's handler over Kafka, where several partitions' batches are handled at once
 * (WORKER_PARTITIONS_AT_ONCE): the batches handed over in one turn of the event loop are stored
 * as one (one insert, one bulk write of the states, one produce), instead of one each. On the
 * real stack at 300 msg/s a partition's batch held 1.6 messages, and each cost its own round
 * trips to the store (#19).
 *
 * Each conversation lives in one partition, and each partition has one batch in flight, so a
 * merged batch keeps every conversation's order. Should the merged store fail, each batch is
 * handled again on its own (`handle`, which counts and logs its retry): a batch that cannot be
 * stored fails alone, as it would unmerged, and the others go on.
 */
export function mergeTurn(
  handleMerged: (records: readonly ConsumedRecord[]) => Promise<void>,
  handle: (batch: readonly ConsumedRecord[]) => Promise<void>,
): (batch: readonly ConsumedRecord[]) => Promise<void> {
  let pending: Part[] = [];
  const flush = async () => {
    const parts = pending;
    pending = [];
    if (parts.length > 1) {
      const merged = await handleMerged(parts.flatMap((p) => p.batch)).then(
        () => true,
        () => false,
      );
      if (merged) return parts.forEach((p) => p.resolve());
    }
    await Promise.all(parts.map((p) => handle(p.batch).then(p.resolve, p.reject)));
  };
  return (batch) =>
    new Promise<void>((resolve, reject) => {
      if (pending.push({ batch, resolve, reject }) === 1) setImmediate(() => void flush());
    });
}
