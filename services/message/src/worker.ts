import type { Cache, ConsumedRecord, EventLog, LogRecord, Logger } from '@parley/common';
import client from 'prom-client';
import { chatEvent, NEVER, parseCommand, type SendCommand } from './envelopes.ts';
import { indexMessage } from './search.ts';
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
    const recipients = new Map<string, string[]>();
    const events: LogRecord[] = [];
    // One failing command must not block its partition forever: after maxAttempts it goes to the DLQ.
    for (const c of commands) {
      const key = `${c.record.topic}/${c.record.partition}/${c.record.offset}`;
      try {
        const message = await this.persist(c.command);
        let to = recipients.get(message.conversationId);
        if (!to)
          recipients.set(
            message.conversationId,
            (to = (await this.store.membersOf(message.conversationId)).map((m) => m.userId)),
          );
        events.push({
          key: message.conversationId,
          value: JSON.stringify(
            chatEvent('message.created', message.conversationId, to, messageView(message)),
          ),
          headers: {
            'event-type': 'message.created',
            ...(c.command.traceparent ? { traceparent: c.command.traceparent } : {}),
          },
        });
        this.failures.delete(key);
      } catch (err) {
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        if (n < this.opts.maxAttempts) throw err;
        this.failures.delete(key);
        await this.deadLetter(c.record, 'attempts', err instanceof Error ? err.message : String(err));
      }
    }
    // Events go out once per batch, before the offsets are committed: a crash re-emits them
    // (at least once; clients de-duplicate by message id).
    await this.log.produce(this.opts.topicEvents, events);
    // Wake API processes waiting on ?wait=persisted; best effort, they fall back to a timeout.
    for (const c of commands)
      if (c.command.notify)
        await this.cache
          .publish(c.command.notify, c.command.id)
          .catch((err: unknown) => this.logger.warn({ err }, 'notify failed'));
    this.metrics.storeSeconds.observe((performance.now() - started) / 1000);
  }

  private async lastSeq(conversationId: string, fresh: boolean): Promise<number> {
    if (!fresh) {
      const cached = this.lastSeqCache.get(conversationId);
      if (cached !== undefined) return cached;
      const state = await this.store.states.findById(conversationId);
      if (state) return state.lastSeq;
    }
    return this.store.lastSeq(conversationId);
  }

  private async persist(cmd: SendCommand): Promise<Message> {
    let existing = await this.store.messages.findById(cmd.id);
    if (existing) {
      this.metrics.duplicates.inc();
      return existing;
    }
    for (let attempt = 0; attempt < 2 && !existing; attempt++) {
      // First try the cheap guess (cache or the state document); if another writer or a crash
      // left it behind, the unique (conversationId, seq) index refuses it and we read the truth.
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
        existing = message;
        this.metrics.stored.inc();
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err;
        this.lastSeqCache.delete(cmd.conversationId);
        existing = await this.store.messages.findById(cmd.id);
        if (existing) this.metrics.duplicates.inc();
      }
    }
    if (!existing) throw new Error(`could not assign a seq in ${cmd.conversationId}; retrying the batch`);
    this.lastSeqCache.set(
      cmd.conversationId,
      Math.max(existing.seq, this.lastSeqCache.get(cmd.conversationId) ?? 0),
    );
    await this.store.states.updateOne(
      { _id: cmd.conversationId },
      {
        $set: {
          lastSeq: this.lastSeqCache.get(cmd.conversationId)!,
          lastMessageAt: existing.createdAt,
          preview: {
            id: existing._id,
            seq: existing.seq,
            senderId: existing.senderId,
            ...(existing.body !== undefined ? { body: existing.body.slice(0, 140) } : {}),
            encrypted: existing.ciphertext !== undefined,
            createdAt: existing.createdAt,
          },
        },
      },
      { upsert: true },
    );
    await indexMessage(this.store, existing);
    this.logger.debug(
      { conversationId: cmd.conversationId, messageId: cmd.id, seq: existing.seq },
      'message stored',
    );
    return existing;
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

/** What clients see of a message (tombstones keep id and seq so clients can update). */
export function messageView(m: Message) {
  return {
    id: m._id,
    conversationId: m.conversationId,
    seq: m.seq,
    senderId: m.senderId,
    clientMsgId: m.clientMsgId,
    ...(m.deleted
      ? { deleted: true as const, deletedAt: m.deletedAt }
      : {
          ...(m.body !== undefined ? { body: m.body } : {}),
          ...(m.ciphertext !== undefined ? { ciphertext: m.ciphertext } : {}),
        }),
    ...(m.replyTo ? { replyTo: m.replyTo } : {}),
    createdAt: m.createdAt,
    ...(m.expiresAt < 8_640_000_000_000_000 ? { expiresAt: new Date(m.expiresAt).toISOString() } : {}),
    editCount: m.editCount,
    ...(m.editedAt ? { editedAt: m.editedAt } : {}),
  };
}
