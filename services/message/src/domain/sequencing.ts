/**
 * Assigning per-conversation sequence numbers, free of I/O. The worker owns one Kafka partition
 * at a time and a conversation lives in one partition, so within a batch it is the only writer.
 */
export interface Pending {
  id: string;
  conversationId: string;
}

export interface Assignment {
  id: string;
  conversationId: string;
  seq: number;
}

/**
 * Gives each command not yet stored the next seq of its conversation, in batch order. Commands
 * already stored (`stored`) or repeated within the batch keep no new number, so redelivery after
 * a crash never leaves a gap or a duplicate.
 */
export function assignSequences(
  batch: readonly Pending[],
  lastSeq: ReadonlyMap<string, number>,
  stored: ReadonlySet<string>,
): Assignment[] {
  const next = new Map(lastSeq);
  const seen = new Set<string>();
  const out: Assignment[] = [];
  for (const c of batch) {
    if (stored.has(c.id) || seen.has(c.id)) continue;
    seen.add(c.id);
    const seq = (next.get(c.conversationId) ?? 0) + 1;
    next.set(c.conversationId, seq);
    out.push({ id: c.id, conversationId: c.conversationId, seq });
  }
  return out;
}

/** Parses a `seq` cursor from a query string value; null when it is not a non-negative integer. */
export function parseSeq(v: string | undefined): number | null {
  if (v === undefined || !/^\d{1,15}$/.test(v)) return null;
  return Number(v);
}
