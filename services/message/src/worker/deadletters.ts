import { randomUUID } from 'node:crypto';
import type { ConsumedRecord, EventLog } from '@parley/common';

/** Where the dead letters are, where a replay sends them, and whose offsets mark them handled. */
export interface DeadLetterTopics {
  /** chat.messages.dlq */
  dlq: string;
  /** chat.messages: a replayed record goes back there, for the worker to store. */
  messages: string;
  /** The consumer group whose committed offsets mark records replayed or dropped. */
  group: string;
}

/** One dead letter as `list` shows it. */
export interface DeadLetter {
  source: string;
  partition: number;
  offset: string;
  key: string;
  reason: string;
  detail: string;
  at: string;
  /** The record's value (a send command, or whatever could not be parsed), cut for display. */
  value: string;
}

/** What a command did: the records it saw, and (replay, drop) how many it moved past. */
export interface RedriveResult {
  records: DeadLetter[];
  handled: number;
}

const DLQ_HEADER = /^dlq-/;

function describe(r: ConsumedRecord): DeadLetter {
  return {
    source: r.headers['dlq-source'] ?? '',
    partition: r.partition,
    offset: r.offset,
    key: r.key,
    reason: r.headers['dlq-reason'] ?? '',
    detail: r.headers['dlq-detail'] ?? '',
    at: r.headers['dlq-at'] ?? '',
    value: r.value.toString('utf8').slice(0, 400),
  };
}

/**
 * The dead-letter topic's operations (`npm run dlq`, and the chart's DLQ Job), on the event log
 * port, so they work on Kafka and on the embedded log alike. Progress is Kafka's own: the
 * committed offsets of one consumer group (`group`). A record after them is pending; `replay`
 * sends each pending record back to chat.messages (key, value and original headers, without the
 * dlq-* ones) and commits; `drop` commits without sending. A replay is idempotent: the message id
 * comes from (conversation, sender, clientMsgId), so a command the worker stored already is not
 * stored or announced again, however often it is replayed.
 */
export class DeadLetters {
  constructor(
    private readonly events: EventLog,
    private readonly topics: DeadLetterTopics,
    /** How long to wait for the log to hand over the pending records before giving up. */
    private readonly timeoutMs = 60_000,
  ) {}

  /** The pending records, read through a throwaway group so nothing is committed for `group`. */
  async list(): Promise<RedriveResult> {
    const committed = await this.events.committedOffsets(this.topics.group, this.topics.dlq);
    const seen: DeadLetter[] = [];
    await this.drain(`${this.topics.group}.list-${randomUUID().slice(0, 8)}`, async (batch) => {
      for (const r of batch)
        if (BigInt(r.offset) >= (committed.get(r.partition) ?? -1n)) seen.push(describe(r));
    });
    return { records: seen, handled: 0 };
  }

  /** Sends every pending record back to chat.messages, then marks it handled. */
  replay(): Promise<RedriveResult> {
    return this.consume(async (batch) => {
      await this.events.produce(
        this.topics.messages,
        batch.map((r) => ({
          key: r.key,
          value: r.value,
          headers: {
            ...Object.fromEntries(Object.entries(r.headers).filter(([k]) => !DLQ_HEADER.test(k))),
            'dlq-replayed-from': r.headers['dlq-source'] ?? `${r.topic}/${r.partition}/${r.offset}`,
          },
        })),
      );
    });
  }

  /** Marks every pending record handled without sending it anywhere. */
  drop(): Promise<RedriveResult> {
    return this.consume(async () => {});
  }

  private async consume(act: (batch: readonly ConsumedRecord[]) => Promise<void>): Promise<RedriveResult> {
    const records: DeadLetter[] = [];
    await this.drain(this.topics.group, async (batch) => {
      await act(batch);
      records.push(...batch.map(describe));
    });
    return { records, handled: records.length };
  }

  /**
   * Subscribes `group` from the beginning of the topic (a new group) or its committed offsets, and
   * stops once every partition has been handled up to the end offsets read at the start.
   */
  private async drain(group: string, handler: (batch: readonly ConsumedRecord[]) => Promise<void>) {
    const ends = await this.events.endOffsets(this.topics.dlq);
    const committed = await this.events.committedOffsets(group, this.topics.dlq);
    const next = new Map([...ends.keys()].map((p) => [p, committed.get(p) ?? -1n]));
    const done = () => [...ends].every(([p, end]) => end === 0n || (next.get(p) ?? -1n) >= end);
    if (done()) return;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const sub = await this.events.subscribe({
      groupId: group,
      topics: [this.topics.dlq],
      fromBeginning: true,
      handler: async (batch) => {
        await handler(batch);
        const last = batch[batch.length - 1];
        if (last) next.set(last.partition, BigInt(last.offset) + 1n);
        if (done()) finish();
      },
    });
    const timer = setTimeout(finish, this.timeoutMs);
    try {
      await finished;
    } finally {
      clearTimeout(timer);
      await sub.stop();
    }
    if (!done())
      throw new Error(
        `the event log did not hand over ${this.topics.dlq} up to its end within ${this.timeoutMs} ms`,
      );
  }
}
