import type { Cache, ConsumedRecord, EventLog, Logger } from '@parley/common';
import client from 'prom-client';
import { chatEvent, NEVER, parseCommand, type SendCommand } from './envelopes.ts';
import { searchTerms } from './search.ts';
import { messageView } from './view.ts';
import { assignSequences } from './sequencing.ts';
import { DuplicateKeyError } from '@parley/common';
import type { Message, MessageStore } from './store.ts';

export interface WorkerOptions {
  topicEvents: string;
  topicDlq: string;
  maxAttempts: number;
}

export class WorkerMetrics {
  readonly stored: client.Counter;
  readonly duplicates: client.Counter;
  readonly dlq: client.Counter<'reason'>;
  readonly storeSeconds: client.Histogram;

  constructor(registry: client.Registry) {
    const registers = [registry];
    this.stored = new client.Counter({
      name: 'parley_worker_messages_stored_total',
      help: 'Messages stored by the worker.',
      registers,
    });
    this.duplicates = new client.Counter({
      name: 'parley_worker_duplicates_total',
      help: 'Commands already stored (redelivery or re-send), skipped.',
      registers,
    });
    this.dlq = new client.Counter({
      name: 'parley_worker_dlq_total',
      help: 'Commands sent to the dead-letter topic, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.storeSeconds = new client.Histogram({
      name: 'parley_worker_store_duration_seconds',
      help: 'Time to store one batch of one partition.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    for (const r of ['poison', 'attempts']) this.dlq.labels(r).inc(0);
  }
}

/**
 * The persister: consumes `chat.messages`, assigns each new message the next seq of its
 * conversation, stores it idempotently, then emits `message.created`. Offsets are committed by the
 * event log only after a batch resolves, so a crash replays the batch and the ids make that safe.
 */
export class Persister {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly store: MessageStore,
    private readonly log: EventLog,
    private readonly cache: Cache,
    private readonly opts: WorkerOptions,
    private readonly logger: Logger,
    private readonly metrics: WorkerMetrics,
  ) {}

  /** Last seq stored per conversation by this worker; a stale value is caught by the unique index. */
  private readonly lastSeqCache = new Map<string, number>();

  async handle(batch: readonly ConsumedRecord[]): Promise<void> {
    const started = performance.now();
    const commands: { record: ConsumedRecord; command: SendCommand }[] = [];
    for (const record of batch) {
      const parsed = parseCommand(record.value);
      if (parsed.ok) commands.push({ record, command: parsed.command });
      else await this.deadLetter(record, 'poison', parsed.reason);
    }
    // Point reads by _id: FerretDB serves those from an index, while `$in` scans the collection.
    const existing = new Map<string, Message>();
    for (const id of new Set(commands.map((c) => c.command.id))) {
      const m = await this.store.messages.findById(id);
      if (m) existing.set(id, m);
    }
    for (const conv of new Set(commands.map((c) => c.command.conversationId))) {
      if (this.lastSeqCache.has(conv)) continue;
      const st = await this.store.states.findById(conv);
      if (st) this.lastSeqCache.set(conv, st.lastSeq);
    }

    const stored: { message: Message; command: SendCommand }[] = [];
    // One failing command must not block its partition forever: after maxAttempts it goes to the DLQ.
    for (const c of commands) {
      const key = `${c.record.topic}/${c.record.partition}/${c.record.offset}`;
      try {
        const message = existing.get(c.command.id) ?? (await this.persist(c.command));
        if (existing.has(c.command.id)) this.metrics.duplicates.inc();
        existing.set(message._id, message);
        stored.push({ message, command: c.command });
        this.failures.delete(key);
      } catch (err) {
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        if (n < this.opts.maxAttempts) throw err;
        this.failures.delete(key);
        await this.deadLetter(c.record, 'attempts', err instanceof Error ? err.message : String(err));
      }
    }

    // Per conversation once per batch: the state document (single writer: this partition's
    // worker), the recipients, the search terms.
    const last = new Map<string, Message>();
    for (const { message } of stored) {
      const prev = last.get(message.conversationId);
      if (!prev || message.seq > prev.seq) last.set(message.conversationId, message);
    }
    const recipients = new Map<string, string[]>();
    for (const [conversationId, m] of last) {
      await this.store.states.updateOne(
        { _id: conversationId },
        {
          $set: {
            lastSeq: Math.max(m.seq, this.lastSeqCache.get(conversationId) ?? 0),
            lastMessageAt: m.createdAt,
            preview: {
              id: m._id,
              seq: m.seq,
              senderId: m.senderId,
              ...(m.body !== undefined ? { body: m.body.slice(0, 140) } : {}),
              encrypted: m.ciphertext !== undefined,
              createdAt: m.createdAt,
            },
          },
        },
        { upsert: true },
      );
      recipients.set(
        conversationId,
        (await this.store.membersOf(conversationId)).map((x) => x.userId),
      );
    }
    await this.store.terms.insertMany(stored.flatMap(({ message }) => searchTerms(message)));

    // Events go out once per batch, before the offsets are committed: a crash re-emits them
    // (at least once; clients de-duplicate by message id).
    await this.log.produce(
      this.opts.topicEvents,
      stored.map(({ message, command }) => ({
        key: message.conversationId,
        value: JSON.stringify(
          chatEvent(
            'message.created',
            message.conversationId,
            recipients.get(message.conversationId) ?? [],
            messageView(message),
            command.acceptedAt,
          ),
        ),
        headers: {
          'event-type': 'message.created',
          ...(command.traceparent ? { traceparent: command.traceparent } : {}),
        },
      })),
    );
    // Wake API processes waiting on ?wait=persisted; best effort, they fall back to a timeout.
    for (const { command } of stored)
      if (command.notify)
        await this.cache
          .publish(command.notify, command.id)
          .catch((err: unknown) => this.logger.warn({ err }, 'notify failed'));
    this.metrics.storeSeconds.observe((performance.now() - started) / 1000);
  }

  private async lastSeq(conversationId: string, fresh: boolean): Promise<number> {
    if (!fresh) {
      const cached = this.lastSeqCache.get(conversationId);
      if (cached !== undefined) return cached;
    }
    return this.store.lastSeq(conversationId);
  }

  /** Stores one new message with the next seq; the unique indexes catch a stale guess. */
  private async persist(cmd: SendCommand): Promise<Message> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const last = await this.lastSeq(cmd.conversationId, attempt > 0);
      const [assigned] = assignSequences([cmd], new Map([[cmd.conversationId, last]]), new Set());
      const message: Message = {
        _id: cmd.id,
        conversationId: cmd.conversationId,
        seq: assigned!.seq,
        senderId: cmd.senderId,
        clientMsgId: cmd.clientMsgId,
        ...(cmd.body !== undefined ? { body: cmd.body } : {}),
        ...(cmd.ciphertext !== undefined ? { ciphertext: cmd.ciphertext } : {}),
        ...(cmd.replyTo ? { replyTo: cmd.replyTo } : {}),
        createdAt: new Date().toISOString(),
        acceptedAt: cmd.acceptedAt,
        expiresAt: cmd.expiresAt ?? NEVER,
        editCount: 0,
      };
      try {
        await this.store.messages.insertOne(message);
        this.metrics.stored.inc();
        this.lastSeqCache.set(cmd.conversationId, message.seq);
        this.logger.debug(
          { conversationId: cmd.conversationId, messageId: cmd.id, seq: message.seq },
          'message stored',
        );
        return message;
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err;
        // Either this id was stored meanwhile, or the seq guess was stale (a crash between the
        // insert and the state update, or another worker during a rebalance): read the truth.
        this.lastSeqCache.delete(cmd.conversationId);
        const found = await this.store.messages.findById(cmd.id);
        if (found) {
          this.metrics.duplicates.inc();
          return found;
        }
      }
    }
    throw new Error(`could not assign a seq in ${cmd.conversationId}; retrying the batch`);
  }

  private async deadLetter(
    record: ConsumedRecord,
    reason: 'poison' | 'attempts',
    detail: string,
  ): Promise<void> {
    this.metrics.dlq.labels(reason).inc();
    this.logger.warn(
      { topic: record.topic, partition: record.partition, offset: record.offset, reason, detail },
      'command sent to DLQ',
    );
    await this.log.produce(this.opts.topicDlq, [
      {
        key: record.key,
        value: record.value,
        headers: {
          ...record.headers,
          'dlq-reason': reason,
          'dlq-detail': detail.slice(0, 1000),
          'dlq-source': `${record.topic}/${record.partition}/${record.offset}`,
          'dlq-at': new Date().toISOString(),
        },
      },
    ]);
  }
}
