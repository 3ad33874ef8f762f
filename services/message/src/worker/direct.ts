import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsumedRecord, EventLog, Subscription } from '@parley/common';
import type { DirectSink, SendCommand } from '../domain/envelopes.ts';

/** One command handed to the persister without the commands log, with its trace headers. */
export interface DirectCommand {
  command: SendCommand;
  record: ConsumedRecord;
}

/** Stores a batch of commands (sequenced, stored, announced); throws when any is not. */
export type DirectHandler = (batch: readonly DirectCommand[]) => Promise<void>;

/** Largest batch one store call takes; the rest waits for the next. */
const MAX_BATCH = 500;

interface Queued {
  item: DirectCommand;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The commands log's stand-in when the api and the worker share one process over the embedded
 * event log (embedded mode). A send there used to be written twice: once as a command to
 * `chat.messages`, then, a consumer pass later, as the message; the only reader of that command
 * was this same process. Here the api hands the command straight to the worker's persister, and
 * the send resolves once the message is stored and its event is out, in one commit.
 *
 * Guarantees are the log's, or stronger:
 * - a send is acked only once its message is committed (with the log, once its command was);
 *   one that fails rejects, and the client re-sends it with the same clientMsgId;
 * - per-conversation order is the order sends reach `submit`, and the persister's sequencing,
 *   idempotency and announcing rules are the same code as for a log batch;
 * - batches form while the previous one is in flight (no timer: an idle process stores a lone
 *   message at once), up to MAX_BATCH.
 *
 * Until `attach` (the worker is up and has drained what the log still holds, so older commands
 * keep their place) and after `detach` (shutdown), `attached` is false and the api writes to the
 * log as before; the worker's consumer takes those records on its next start.
 */
export class DirectCommands implements DirectSink {
  private handler: DirectHandler | undefined;
  private queue: Queued[] = [];
  private running: Promise<void> | undefined;
  private offset = 0;

  get attached(): boolean {
    return this.handler !== undefined;
  }

  attach(handler: DirectHandler): void {
    this.handler = handler;
  }

  /** Stops taking commands and waits for what was taken to be stored (or refused). */
  async detach(): Promise<void> {
    this.handler = undefined;
    while (this.running) await this.running;
  }

  /** Resolves once the command's message is stored and announced; rejects when it is not. */
  submit(command: SendCommand, headers: Readonly<Record<string, string>>): Promise<void> {
    if (!this.handler) return Promise.reject(new Error('the persister is not attached'));
    // A record for the persister: the trace headers, and an offset for its logs and metrics.
    const record: ConsumedRecord = {
      topic: 'direct',
      partition: 0,
      offset: String(this.offset++),
      key: command.conversationId,
      value: Buffer.alloc(0),
      headers,
      timestamp: command.acceptedAt,
    };
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item: { command, record }, resolve, reject });
      this.running ??= this.pump();
    });
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const taken = this.queue.splice(0, MAX_BATCH);
        const handler = this.handler;
        if (!handler) {
          const err = new Error('the persister stopped');
          for (const q of taken) q.reject(err);
          continue;
        }
        try {
          await handler(taken.map((q) => q.item));
          for (const q of taken) q.resolve();
        } catch (err) {
          for (const q of taken) q.reject(err);
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}

/**
 * Attaches `handler` once the worker group has consumed everything the commands log held when
 * it started (checked every 50 ms), so commands acked before a restart are stored before new
 * sends to the same conversations. `cancel` stops waiting (shutdown).
 */
export function attachWhenDrained(
  direct: DirectCommands,
  events: Pick<EventLog, 'committedOffsets' | 'endOffsets'>,
  groupId: string,
  topic: string,
  handler: DirectHandler,
): { cancel: () => void; attached: Promise<boolean> } {
  let cancelled = false;
  const attached = (async () => {
    const end = await events.endOffsets(topic);
    for (;;) {
      if (cancelled) return false;
      const committed = await events.committedOffsets(groupId, topic);
      if ([...end].every(([p, e]) => e === 0n || (committed.get(p) ?? -1n) >= e)) break;
      await sleep(50);
    }
    if (cancelled) return false;
    direct.attach(handler);
    return true;
  })();
  return { cancel: () => void (cancelled = true), attached };
}

/**
 * The worker's subscription to the commands log. Given `direct` over the embedded event log, it
 * also takes the api's sends directly once the log is drained; log batches and direct ones take
 * turns, since both sequence the same conversations. Stopping detaches (waiting for the direct
 * batch in flight), then finishes the log batch in flight and commits.
 */
export async function subscribePersister(
  events: EventLog,
  persister: {
    handle: (batch: readonly ConsumedRecord[]) => Promise<void>;
    storeDirect: DirectHandler;
  },
  opts: {
    groupId: string;
    topic: string;
    direct?: DirectCommands | undefined;
    /** Partitions stored at once (Kafka; the embedded log is exclusive anyway). */
    partitionsAtOnce?: number;
  },
): Promise<Subscription> {
  const direct = events.kind === 'embedded' ? opts.direct : undefined;
  let turn: Promise<unknown> = Promise.resolve();
  const exclusive = (fn: () => Promise<void>): Promise<void> => {
    const run = turn.then(fn, fn);
    turn = run.catch(() => undefined);
    return run;
  };
  const sub = await events.subscribe({
    groupId: opts.groupId,
    topics: [opts.topic],
    fromBeginning: true,
    ...(opts.partitionsAtOnce ? { partitionsAtOnce: opts.partitionsAtOnce } : {}),
    handler: (batch) => (direct ? exclusive(() => persister.handle(batch)) : persister.handle(batch)),
  });
  const attaching = direct
    ? attachWhenDrained(direct, events, opts.groupId, opts.topic, (batch) =>
        exclusive(() => persister.storeDirect(batch)),
      )
    : undefined;
  return {
    stop: async () => {
      attaching?.cancel();
      await direct?.detach();
      await sub.stop();
    },
  };
}
