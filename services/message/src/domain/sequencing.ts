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

/**
 * One conversation's sequencing within a worker batch: the plan `assignSequences` makes, and its
 * repair as storing goes. The worker stores the commands in record order and tells the plan what
 * happened to each one:
 * - `stored(id)`: inserted with its planned seq;
 * - `alreadyStored(id)`: its id was stored meanwhile (a redelivery or a re-send). It takes no seq,
 *   so the commands after it move down one;
 * - `dropped(id)`: it will not be stored (it went to the DLQ); it takes no seq either;
 * - `stale(lastSeq)`: the seq was taken (the cached last seq was stale, after a crash between the
 *   insert and the state update or a rebalance). Every command not stored yet is planned again
 *   after the store's real last seq.
 */
export class SequencePlan {
  private readonly order: string[];
  private readonly conversationId: string;
  private readonly done = new Set<string>();
  private seqs = new Map<string, number>();
  private last: number;

  constructor(commands: readonly Pending[], lastSeq: number, stored: ReadonlySet<string> = new Set()) {
    this.order = [...new Set(commands.filter((c) => !stored.has(c.id)).map((c) => c.id))];
    this.conversationId = commands[0]?.conversationId ?? '';
    this.last = lastSeq;
    this.plan();
  }

  /** The seq planned for a command not stored yet (undefined for one stored or unknown). */
  seqOf(id: string): number | undefined {
    return this.done.has(id) ? undefined : this.seqs.get(id);
  }

  stored(id: string): void {
    const seq = this.seqs.get(id);
    if (seq === undefined || this.done.has(id)) return;
    this.done.add(id);
    this.last = Math.max(this.last, seq);
  }

  alreadyStored(id: string): void {
    if (this.done.has(id)) return;
    this.done.add(id);
    this.plan();
  }

  dropped(id: string): void {
    this.alreadyStored(id);
  }

  stale(lastSeq: number): void {
    this.last = Math.max(this.last, lastSeq);
    this.plan();
  }

  /** Plans what is not stored yet, after the highest seq known taken. */
  private plan(): void {
    const rest = this.order.filter((id) => !this.done.has(id));
    const assigned = assignSequences(
      rest.map((id) => ({ id, conversationId: this.conversationId })),
      new Map([[this.conversationId, this.last]]),
      new Set(),
    );
    this.seqs = new Map([
      ...[...this.seqs].filter(([id]) => this.done.has(id)),
      ...assigned.map((a) => [a.id, a.seq] as const),
    ]);
  }
}

/** Parses a `seq` cursor from a query string value; null when it is not a non-negative integer. */
export function parseSeq(v: string | undefined): number | null {
  if (v === undefined || !/^\d{1,15}$/.test(v)) return null;
  return Number(v);
}
