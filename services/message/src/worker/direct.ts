import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsumedRecord, EventLog, Subscription } from '@parley/common';
import type { DirectSink, SendCommand } from '../domain/envelopes.ts';
import { mergeTurn } from './merge.ts';

/** One command handed to the persister without the commands log, with its trace headers. */
export interface DirectCommand {
  command: SendCommand;
  record: ConsumedRecord;
}

/**
 * Stores a batch of commands (sequenced, stored, announced); throws when any is not. It may
 * resolve early, once the batch's writes are made, with `committed`, which settles once they are
 * committed and announced: the next batch is then written meanwhile and shares that commit.
 */
export type DirectHandler = (batch: readonly DirectCommand[]) => Promise<void | { committed: Promise<void> }>;

/** Largest batch one store call takes; the rest waits for the next. */
const MAX_BATCH = 500;

/** How long before a scheduled commit a batch is written (about what writing one takes). */
const GATHER_LEAD_MS = 1;

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
 * - a batch, up to MAX_BATCH, holds the sends that can share one commit: those of one turn of
 *   the event loop, or when a commit is scheduled later (COMMIT_SPACING_MS after the last), all
 *   that arrive until just before it. An idle process stores a lone send in its own turn.
 * - the next batch is written while the last one waits for its commit (it shares it, or takes
 *   the next); each send is acked after its own batch's commit. A commit that fails refuses
 *   every send whose writes it held, and the persister forgets the seqs it had cached for them.
 *
 * Until `attach` (the worker is up and has drained what the log still holds, so older commands
 * keep their place) and after `detach` (shutdown), `attached` is false and the api writes to the
 * log as before; the worker's consumer takes those records on its next start.
 */
export class DirectCommands implements DirectSink {
  private handler: DirectHandler | undefined;
  private draining: DirectHandler | undefined;
  private commitDueInMs: (() => number | undefined) | undefined;
  private queue: Queued[] = [];
  private running: Promise<void> | undefined;
  private offset = 0;

  get attached(): boolean {
    return this.handler !== undefined;
  }

  /**
   * `commitDueInMs`: when the writes a handler makes wait for a commit that is already scheduled
   * (the embedded SQLite file's group commit), ms until it; the next batch then forms until just
   * before it, so that every send that can share that commit does, in one batch.
   */
  attach(handler: DirectHandler, commitDueInMs?: () => number | undefined): void {
    this.handler = handler;
    this.commitDueInMs = commitDueInMs;
  }

  /** Stops taking commands and waits for what was taken to be stored (or refused). */
  async detach(): Promise<void> {
    // What was taken before this is still stored, with the handler it was taken for.
    this.draining = this.handler;
    this.handler = undefined;
    while (this.running) await this.running;
    await Promise.all(this.committing);
    this.draining = undefined;
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
      await this.gather();
      while (this.queue.length > 0) {
        const taken = this.queue.splice(0, MAX_BATCH);
        const handler = this.handler ?? this.draining;
        if (!handler) {
          const err = new Error('the persister stopped');
          for (const q of taken) q.reject(err);
          continue;
        }
        try {
          const written = await handler(taken.map((q) => q.item));
          if (written) this.settleAfter(written.committed, taken);
          else for (const q of taken) q.resolve();
        } catch (err) {
          for (const q of taken) q.reject(err);
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  /**
   * Lets a batch form: until the end of this turn of the event loop, or when a commit is
   * scheduled later than that, until just before it (its writes then ride it). A batch written
   * too early would leave the sends arriving before that commit to a batch, and a commit, of
   * their own: 22% more CPU a message at 2,000 msg/s, in smaller batches, for the same wait.
   */
  private async gather(): Promise<void> {
    const due = this.commitDueInMs?.();
    if (due !== undefined && due > GATHER_LEAD_MS) await sleep(due - GATHER_LEAD_MS);
    else await new Promise(setImmediate);
  }

  /** Batches written and waiting for their commit. */
  private readonly committing = new Set<Promise<void>>();

  private settleAfter(committed: Promise<void>, taken: readonly Queued[]): void {
    const settled = committed.then(
      () => {
        for (const q of taken) q.resolve();
      },
      (err: unknown) => {
        for (const q of taken) q.reject(err);
      },
    );
    this.committing.add(settled);
    void settled.then(() => this.committing.delete(settled));
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
  commitDueInMs?: () => number | undefined,
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
    direct.attach(handler, commitDueInMs);
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
    handleMerged: (records: readonly ConsumedRecord[]) => Promise<void>;
    writeDirect: DirectHandler;
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
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = turn.then(fn, fn);
    turn = run.catch(() => undefined);
    return run;
  };
  const sub = await events.subscribe({
    groupId: opts.groupId,
    topics: [opts.topic],
    fromBeginning: true,
    ...(opts.partitionsAtOnce ? { partitionsAtOnce: opts.partitionsAtOnce } : {}),
    handler: direct
      ? (batch) => exclusive(() => persister.handle(batch))
      : // Batches of partitions handled at once are stored together (worker/merge.ts).
        mergeTurn(
          (records) => persister.handleMerged(records),
          (batch) => persister.handle(batch),
        ),
  });
  const attaching = direct
    ? attachWhenDrained(
        direct,
        events,
        opts.groupId,
        opts.topic,
        (batch) => exclusive(() => persister.writeDirect(batch)),
        events.commitDueInMs?.bind(events),
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
