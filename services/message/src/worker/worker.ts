import {
  context,
  inSpan,
  recordContext,
  startSpan,
  tracingEnabled,
  type Cache,
  type ConsumedRecord,
  type Context,
  type EventLog,
  type Logger,
} from '@parley/common';
import { deadLetterRecord, parseCommand, type PoisonKind, type SendCommand } from '../domain/envelopes.ts';
import { textEntry } from '../domain/search.ts';
import { SequencePlan } from '../domain/sequencing.ts';
import { DuplicateKeyError, inParallel } from '@parley/common';
import type { Message, MessageStore } from '../domain/store.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { DirectCommand } from './direct.ts';
import { listExpiring } from './expiry.ts';
import { acceptedAtOf, createdEvent, messageOf, stateOf } from './shapes.ts';

export { WorkerMetrics } from './metrics.ts';

/** The members a conversation's events name as recipients (worker/recipients.ts caches them). */
export interface RecipientSource {
  of(conversationId: string): Promise<string[]>;
}

/** Store round trips a batch keeps in flight at once (the driver's pool is larger). */
const STORE_PARALLELISM = 16;

export interface WorkerOptions {
  topicEvents: string;
  topicDlq: string;
  /**
   * The event log's appends and the store's writes share one commit (embedded mode: one SQLite
   * file): the conversation state is written in the events' commit rather than after it.
   */
  eventsCommitWithStore?: boolean;
}

/**
 * The persister: consumes `chat.messages`, assigns each new message the next seq of its
 * conversation, stores it idempotently, then emits `message.created`. Offsets are committed by the
 * event log only after a batch resolves, so a crash replays the batch and the ids make that safe.
 */
export class Persister {
  /** Records of a failing batch already dead-lettered, so its retries do not send them again. */
  private readonly deadLettered = new Set<string>();

  constructor(
    private readonly store: MessageStore,
    private readonly events: EventLog,
    private readonly cache: Cache,
    private readonly opts: WorkerOptions,
    private readonly logger: Logger,
    private readonly metrics: WorkerMetrics,
    /** Who a conversation's events go to (default: its members, read per batch). */
    private readonly recipients: RecipientSource = { of: (c) => store.memberIdsOf(c) },
  ) {}

  /** Last seq stored per conversation by this worker; a stale value is caught by the unique index. */
  private readonly lastSeqCache = new Map<string, number>();
  /** emittedSeq per conversation, as this worker last read or wrote it. */
  private readonly emittedCache = new Map<string, number>();
  /**
   * emittedSeq per conversation as last committed, where the state shares the events' commit: a
   * failed append puts this back (the next batch may have written over emittedCache meanwhile).
   */
  private readonly emittedDurable = new Map<string, number>();

  /**
   * Handles one batch of one partition. Only a record that could never have been acked goes to the
   * DLQ (parseCommand: unparseable, unknown version, breaks the send rules). Any other failure
   * (store or event log down, a timeout) fails the batch: the event log redelivers it with backoff
   * until it succeeds, the idempotent ids make that safe, and the retry is counted and its age
   * exported for alerting (ParleyWorkerRetrying). An acked message is never parked (#21).
   */
  async handle(batch: readonly ConsumedRecord[]): Promise<void> {
    const first = batch[0];
    if (!first) return;
    const key = `${first.topic}/${first.partition}`;
    try {
      await this.handleMerged(batch);
    } catch (err) {
      this.metrics.retries.inc();
      const acceptedAt = Math.min(...batch.map((r) => acceptedAtOf(r) ?? Date.now()));
      const was = this.metrics.retrying.get(key);
      this.metrics.retrying.set(key, {
        acceptedAt: Math.min(was?.acceptedAt ?? acceptedAt, acceptedAt),
        lastTry: Date.now(),
      });
      this.logger.warn(
        { err, topic: first.topic, partition: first.partition, records: batch.length },
        'batch failed; the event log redelivers it with backoff',
      );
      throw err;
    }
  }

  /**
   * Stores the records of one or several partitions' batches as one batch, and clears what their
   * past failures left; throws without counting a retry (handle() does, worker/merge.ts).
   */
  async handleMerged(records: readonly ConsumedRecord[]): Promise<void> {
    await this.handleBatch(records);
    for (const r of records) {
      this.metrics.retrying.delete(`${r.topic}/${r.partition}`);
      this.deadLettered.delete(`${r.topic}/${r.partition}/${r.offset}`);
    }
  }

  private async handleBatch(batch: readonly ConsumedRecord[]): Promise<void> {
    const started = performance.now();
    const commands: { record: ConsumedRecord; command: SendCommand }[] = [];
    for (const record of batch) {
      const parsed = parseCommand(record.value);
      if (parsed.ok) commands.push({ record, command: parsed.command });
      else await this.deadLetter(record, parsed.kind, parsed.reason);
    }
    const { rest } = await this.storeCommands(commands);
    await rest;
    this.metrics.storeSeconds.observe((performance.now() - started) / 1000);
  }

  /**
   * Stores commands the api handed over without the commands log (worker/direct.ts), with the
   * same sequencing, idempotency and announcing as a log batch. Resolves once the batch's writes
   * are made (where the events share the store's commit, before that commit), with `committed`,
   * which settles once they are committed and announced: the next batch may be written meanwhile,
   * shares the commit, and its sequencing follows this one's in memory.
   */
  async writeDirect(batch: readonly DirectCommand[]): Promise<{ committed: Promise<void> }> {
    const started = performance.now();
    const { rest } = await this.storeCommands(batch);
    const committed = rest.then(() =>
      this.metrics.storeSeconds.observe((performance.now() - started) / 1000),
    );
    committed.catch(() => undefined);
    return { committed };
  }

  /**
   * Sequences, stores and announces `commands`; resolves, once the writes are made, with a
   * promise of the rest: the commit (where the events share it), the events, the notifications.
   * A failure of either fails the batch: the caches of what it wrote are dropped, since a failed
   * commit rolled those writes back (read again from the store, they cannot leave a gap).
   */
  private async storeCommands(commands: readonly DirectCommand[]): Promise<{ rest: Promise<void> }> {
    try {
      const { rest } = await this.writeCommands(commands);
      return { rest: rest.catch((err: unknown) => this.forget(commands, err)) };
    } catch (err) {
      return this.forget(commands, err);
    }
  }

  /** Drops the cached seqs of a failed batch's conversations (see storeCommands). */
  private forget(commands: readonly DirectCommand[], err: unknown): never {
    for (const c of commands) {
      this.lastSeqCache.delete(c.command.conversationId);
      this.emittedCache.delete(c.command.conversationId);
      this.emittedDurable.delete(c.command.conversationId);
    }
    throw err;
  }

  private async writeCommands(commands: readonly DirectCommand[]): Promise<{ rest: Promise<void> }> {
    // Conversations are independent: their reads and writes run side by side (a round trip to
    // the store is the cost), while each conversation's messages are stored in record order.
    const byConversation = new Map<string, DirectCommand[]>();
    for (const c of commands) {
      const list = byConversation.get(c.command.conversationId);
      if (list) list.push(c);
      else byConversation.set(c.command.conversationId, [c]);
    }
    // Commands found stored already (a redelivery, a client's re-send). Not read up front: a
    // read per message cost the store as much as the insert (#19), for the rare duplicate. The
    // batch's insert collides on such an id instead, and the one-by-one path below reads it.
    const existing = new Map<string, Message>();
    await inParallel(
      [...byConversation.keys()].filter((conv) => !this.lastSeqCache.has(conv)),
      STORE_PARALLELISM,
      async (conv) => {
        const st = await this.store.states.findById(conv);
        if (st) this.lastSeqCache.set(conv, st.lastSeq);
        this.emittedCache.set(conv, st?.emittedSeq ?? st?.lastSeq ?? 0);
        this.emittedDurable.set(conv, st?.emittedSeq ?? st?.lastSeq ?? 0);
      },
    );

    /** Message id → its store span's context, which its event continues. */
    const traced = new Map<string, Context>();
    const results = new Map<(typeof commands)[number], Message>();
    // One plan per conversation and batch: the next seqs after the last stored one, in record
    // order, repaired as commands turn out stored already, are dropped, or meet a stale guess.
    const plans = new Map<string, SequencePlan>();
    for (const [conversationId, list] of byConversation)
      plans.set(
        conversationId,
        new SequencePlan(
          list.map((c) => c.command),
          await this.knownLastSeq(conversationId),
          new Set(list.filter((c) => existing.has(c.command.id)).map((c) => c.command.id)),
        ),
      );
    await listExpiring(this.store, commands, existing);
    // The whole batch in one ordered insert; whatever it leaves (a collision, a failure) is
    // stored one by one below, where stale seqs are repaired and a failing command is isolated.
    await this.insertBatch(commands, plans, existing, results, traced);
    await inParallel([...byConversation], STORE_PARALLELISM, async ([conversationId, list]) => {
      const plan = plans.get(conversationId)!;
      for (const c of list) {
        if (results.has(c)) continue;
        results.set(c, await this.storeOne(c, existing, traced, plan));
      }
    });
    // Events go out in record order.
    const stored = commands.flatMap((c) => {
      const message = results.get(c);
      return message ? [{ message, command: c.command, record: c.record }] : [];
    });

    // A re-send or a redelivery of a message whose event is already out changes nothing and
    // broadcasts nothing (#18); one stored before a crash that lost its event is announced now.
    // A command repeated within the batch is announced once.
    const announcing = new Set<string>();
    const fresh = stored.filter(({ message }) => {
      if (message.seq <= (this.emittedCache.get(message.conversationId) ?? 0)) return false;
      if (announcing.has(message._id)) return false;
      announcing.add(message._id);
      return true;
    });

    // Per conversation once per batch: the recipients, the search terms, and after the events the
    // state document (single writer: this partition's worker).
    const last = new Map<string, Message>();
    for (const { message } of fresh) {
      const prev = last.get(message.conversationId);
      if (!prev || message.seq > prev.seq) last.set(message.conversationId, message);
    }
    const recipients = new Map<string, string[]>();
    await inParallel([...last.keys()], STORE_PARALLELISM, async (conversationId) => {
      recipients.set(conversationId, await this.recipients.of(conversationId));
    });
    await this.store.text.add(fresh.flatMap(({ message }) => textEntry(message)));

    // Events go out once per batch, before the offsets are committed: a crash re-emits them
    // (at least once; clients de-duplicate by message id).
    const produced =
      fresh.length > 0
        ? this.events.produce(
            this.opts.topicEvents,
            fresh.map(({ message, command, record }) =>
              createdEvent(
                message,
                command,
                recipients.get(message.conversationId) ?? [],
                // Each event continues its own message's trace (see the store span in persist()).
                traced.get(message._id) ?? recordContext(record),
              ),
            ),
          )
        : undefined;
    // The state follows the events: what it says was announced was (a crash before this write
    // re-announces the batch on redelivery or re-send: at least once). Where the two share one
    // commit (the embedded log and store, one SQLite file), the state joins the events' commit
    // instead of taking one of its own; should their append fail, its emittedSeq is put back.
    produced?.catch(() => undefined);
    const together = this.opts.eventsCommitWithStore === true;
    if (!together) await produced;
    const emittedBefore = together
      ? new Map([...last.keys()].map((c) => [c, this.emittedDurable.get(c) ?? this.emittedCache.get(c) ?? 0]))
      : undefined;
    // One write for the batch's states (one bulk write on MongoDB: it was a findAndModify a
    // conversation, 0.98 commands a message on the real stack at 300 msg/s).
    const emitted = new Map([...last].map(([c, m]) => [c, Math.max(m.seq, this.emittedCache.get(c) ?? 0)]));
    await this.store.states.updateEach(
      [...last].map(([conversationId, m]) => ({
        filter: { _id: conversationId },
        update: {
          $set: stateOf(
            m,
            Math.max(m.seq, this.lastSeqCache.get(conversationId) ?? 0),
            emitted.get(conversationId)!,
          ),
        },
        upsert: true,
      })),
    );
    for (const [conversationId, seq] of emitted) this.emittedCache.set(conversationId, seq);
    const rest = this.announced(stored, produced, emittedBefore, last);
    rest.catch(() => undefined);
    if (!together) await rest;
    return { rest };
  }

  /**
   * The end of a batch once its writes are made: where the state joined the events' commit,
   * waits for that commit (and puts emittedSeq back should it fail), then wakes the API processes
   * waiting on the batch's messages.
   */
  private async announced(
    stored: readonly { command: SendCommand }[],
    produced: Promise<void> | undefined,
    emittedBefore: Map<string, number> | undefined,
    last: ReadonlyMap<string, Message>,
  ): Promise<void> {
    if (emittedBefore)
      await produced?.catch(async (err: unknown) => {
        await inParallel([...emittedBefore], STORE_PARALLELISM, async ([conversationId, seq]) => {
          await this.store.states.updateOne({ _id: conversationId }, { $set: { emittedSeq: seq } });
          this.emittedCache.set(conversationId, seq);
        });
        throw err;
      });
    if (emittedBefore) for (const [conversationId, m] of last) this.emittedDurable.set(conversationId, m.seq);
    // Wake API processes waiting on ?wait=persisted; best effort, they fall back to a timeout.
    await Promise.all(
      stored.map(({ command }) =>
        command.notify
          ? this.cache
              .publish(command.notify, command.id)
              .catch((err: unknown) =>
                this.logger.warn(
                  { err, conversationId: command.conversationId, messageId: command.id },
                  'notify failed',
                ),
              )
          : undefined,
      ),
    );
  }

  /**
   * Stores every planned command of the batch with one ordered insert (record order, so each
   * conversation's seqs go in ascending). What went in is recorded in `results`; the rest is left
   * to the one-by-one path. A failure other than a collision is left to it too, where a command
   * that still fails fails the batch (retried with backoff, never dead-lettered).
   */
  private async insertBatch(
    commands: readonly { record: ConsumedRecord; command: SendCommand }[],
    plans: ReadonlyMap<string, SequencePlan>,
    existing: Map<string, Message>,
    results: Map<{ record: ConsumedRecord; command: SendCommand }, Message>,
    traced: Map<string, Context>,
  ): Promise<void> {
    const planned: { c: (typeof commands)[number]; message: Message }[] = [];
    const ids = new Set<string>();
    for (const c of commands) {
      const known = existing.get(c.command.id);
      if (known) {
        this.metrics.duplicates.inc();
        results.set(c, known);
        continue;
      }
      const seq = plans.get(c.command.conversationId)!.seqOf(c.command.id);
      if (seq === undefined || ids.has(c.command.id)) continue;
      ids.add(c.command.id);
      planned.push({ c, message: messageOf(c.command, seq) });
    }
    if (planned.length === 0) return;
    const spans = tracingEnabled()
      ? planned.map(({ c, message }) =>
          startSpan('store message', recordContext(c.record), {
            'parley.conversation.id': message.conversationId,
            'parley.message.id': message._id,
            'parley.message.seq': message.seq,
            'parley.store.batch_size': planned.length,
          }),
        )
      : [];
    let inserted = 0;
    try {
      // One write for the batch: the driver's span joins the first traced message's trace (each
      // message's `store message` span records the batch size).
      const insert = () => this.store.messages.insertOrdered(planned.map((p) => p.message));
      const first = spans.find((x) => x.span.isRecording());
      inserted = await (first ? context.with(first.ctx, insert) : insert());
    } catch (err) {
      this.logger.warn({ err, messages: planned.length }, 'batch insert failed; storing one by one');
    }
    const now = Date.now();
    for (let i = 0; i < planned.length; i++) {
      const span = spans[i];
      if (i >= inserted) {
        span?.span.end();
        continue;
      }
      const { c, message } = planned[i]!;
      plans.get(message.conversationId)!.stored(message._id);
      existing.set(message._id, message);
      results.set(c, message);
      this.lastSeqCache.set(message.conversationId, message.seq);
      this.metrics.hotPersistLatency.observe('persisted', (now - c.command.acceptedAt) / 1000);
      if (span) {
        traced.set(message._id, span.ctx);
        span.span.end();
      }
    }
    this.metrics.stored.inc(inserted);
  }

  /** Stores one command (or finds it stored); a failure fails the batch, which is retried. */
  private async storeOne(
    c: { record: ConsumedRecord; command: SendCommand },
    existing: Map<string, Message>,
    traced: Map<string, Context>,
    plan: SequencePlan,
  ): Promise<Message> {
    const known = existing.get(c.command.id);
    if (known) this.metrics.duplicates.inc();
    const message = known ?? (await this.persistTraced(c.record, c.command, traced, plan));
    existing.set(message._id, message);
    return message;
  }

  /** The conversation's last stored seq as this worker last saw it (the store when not cached). */
  private async knownLastSeq(conversationId: string): Promise<number> {
    return this.lastSeqCache.get(conversationId) ?? this.store.lastSeq(conversationId);
  }

  /** persist() in a `store message` span that continues the command's trace (when tracing is on). */
  private persistTraced(
    record: ConsumedRecord,
    cmd: SendCommand,
    traced: Map<string, Context>,
    plan: SequencePlan,
  ): Promise<Message> {
    if (!tracingEnabled()) return this.persist(cmd, plan);
    return inSpan(
      'store message',
      {
        parent: recordContext(record),
        attributes: { 'parley.conversation.id': cmd.conversationId, 'parley.message.id': cmd.id },
      },
      async (span, ctx) => {
        const message = await this.persist(cmd, plan);
        span.setAttribute('parley.message.seq', message.seq);
        traced.set(message._id, ctx);
        return message;
      },
    );
  }

  /** Stores one new message with its planned seq; the unique indexes catch a stale guess. */
  private async persist(cmd: SendCommand, plan: SequencePlan): Promise<Message> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const seq = plan.seqOf(cmd.id);
      if (seq === undefined) break;
      const message = messageOf(cmd, seq);
      try {
        await this.store.messages.insertOne(message);
        plan.stored(cmd.id);
        this.metrics.stored.inc();
        this.metrics.hotPersistLatency.observe('persisted', (Date.now() - cmd.acceptedAt) / 1000);
        this.lastSeqCache.set(cmd.conversationId, seq);
        this.logger.debug({ conversationId: cmd.conversationId, messageId: cmd.id, seq }, 'message stored');
        return message;
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err;
        // Either this id was stored meanwhile, or the seq guess was stale (a crash between the
        // insert and the state update, or another worker during a rebalance): read the truth.
        this.lastSeqCache.delete(cmd.conversationId);
        const found = await this.store.messages.findById(cmd.id);
        if (found) {
          plan.alreadyStored(cmd.id);
          this.metrics.duplicates.inc();
          return found;
        }
        plan.stale(await this.store.lastSeq(cmd.conversationId));
      }
    }
    throw new Error(`could not assign a seq in ${cmd.conversationId}; retrying the batch`);
  }

  private async deadLetter(record: ConsumedRecord, reason: PoisonKind, detail: string): Promise<void> {
    const source = `${record.topic}/${record.partition}/${record.offset}`;
    if (this.deadLettered.has(source)) return;
    this.metrics.dlq.labels(reason).inc();
    this.logger.warn(
      {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        // The record key is the conversation (a poison command's id is unknown).
        conversationId: record.key,
        reason,
        detail,
      },
      'record sent to DLQ',
    );
    await this.events.produce(this.opts.topicDlq, [deadLetterRecord(record, reason, detail)]);
    this.deadLettered.add(source);
  }
}
