import type { ConsumedRecord, EventLog, Logger } from '@parley/common';
import { q } from '@parley/common';
import { deadLetterRecord } from '../domain/envelopes.ts';
import { aggregatePresence, type Presence } from '../domain/presence.ts';
import { verifiedEmailOf, type MessageStore } from '../domain/store.ts';
import { parseChatEvent } from '../fanout/routing.ts';
import { decide, defaultPrefs, type RecipientFacts } from './decide.ts';
import type { Deliverer } from './deliver.ts';
import type { NotifyMetrics } from './metrics.ts';
import type { NotificationStore, WindowDoc } from './store.ts';

/** The fields of a `message.created` event's data the notifier reads (domain/view.ts). */
interface MessageData {
  id: string;
  seq: number;
  senderId: string;
  body?: string;
  ciphertext?: string;
  attachments?: string[];
}

export interface NotifierOptions {
  topicDlq: string;
  maxAttempts: number;
  collapseMs: number;
}

/** The text a notification shows: cleartext is cut short; an encrypted message shows nothing of itself. */
export function previewOf(m: {
  body?: string;
  ciphertext?: string;
  attachments?: readonly string[];
}): string {
  if (m.body === undefined) return 'New encrypted message';
  const files = m.attachments?.length ?? 0;
  const clip = files ? ` 📎${files > 1 ? ` ${files}` : ''}` : '';
  const flat = m.body.replace(/\s+/g, ' ').trim();
  if (!flat) return files ? `Sent ${files > 1 ? `${files} attachments` : 'an attachment'}` : 'New message';
  const room = 140 - clip.length;
  return (flat.length > room ? `${flat.slice(0, room - 1)}…` : flat) + clip;
}

/**
 * The notifier: a consumer group over `chat.events`. For each `message.created` it gathers the
 * facts (presence on every pod, blocks, preferences, devices, open windows), asks the pure
 * decide(), stores a notification per recipient, and pushes the first message of a burst. The
 * sweep (sweep.ts) closes windows into summaries and mail. Other event types are ignored.
 */
export class Notifier {
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly d: {
      store: NotificationStore;
      messages: MessageStore;
      presence: Pick<Presence, 'entries'>;
      events: EventLog;
      deliverer: Deliverer;
      opts: NotifierOptions;
      logger: Logger;
      metrics: NotifyMetrics;
      now?: () => number;
    },
  ) {}

  /** One batch, in order; an event that fails too often goes to the DLQ instead of blocking the partition. */
  async handle(batch: readonly ConsumedRecord[]): Promise<void> {
    for (const record of batch) {
      const ev = parseChatEvent(record.value);
      if (!ev) {
        await this.deadLetter(record, 'poison', 'not a valid chat event');
        continue;
      }
      if (ev.type !== 'message.created') continue;
      const data = ev.data as unknown as MessageData;
      if (typeof data.id !== 'string' || typeof data.senderId !== 'string') {
        await this.deadLetter(record, 'poison', 'message.created without id or senderId');
        continue;
      }
      const key = `${record.topic}/${record.partition}/${record.offset}`;
      try {
        await this.onMessage(ev.conversationId, ev.recipients, data);
        this.failures.delete(key);
      } catch (err) {
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        if (n < this.d.opts.maxAttempts) throw err;
        this.failures.delete(key);
        await this.deadLetter(record, 'attempts', err instanceof Error ? err.message : String(err));
      }
    }
  }

  async onMessage(conversationId: string, recipients: readonly string[], m: MessageData): Promise<void> {
    const { store, messages, metrics } = this.d;
    const now = (this.d.now ?? Date.now)();
    metrics.hot.events.inc();
    const others = recipients.filter((u) => u !== m.senderId);
    if (others.length === 0) return;
    const windowId = (u: string) => `${u}:${conversationId}`;
    // Presence first: a member online on any pod is skipped whatever else holds (decide's order),
    // so the store is read only for the offline ones, and not at all when everyone is online.
    const online = await this.online(others, now);
    const offline = others.filter((u) => !online.has(u));
    // Everyone else online, the common case: decide() would skip each recipient, the sender as
    // `sender` and the others as `online`; count that without building their facts (#19).
    if (offline.length === 0) {
      metrics.hot.decisions.inc('online', others.length);
      if (others.length < recipients.length)
        metrics.hot.decisions.inc('sender', recipients.length - others.length);
      return;
    }
    const [blockers, prefs, users, subs, windows] = await Promise.all([
      messages.blockersAmong(offline, m.senderId),
      store.prefsOfMany(offline),
      messages.usersById([...offline, m.senderId]),
      store.subscriptionsOf(offline),
      store.windows.find({ _id: q.in(offline.map(windowId)) }, { limit: offline.length }),
    ]);
    const windowOf = new Map(windows.map((w) => [w.userId, w]));
    const facts: RecipientFacts[] = recipients.map((userId) => {
      const w = windowOf.get(userId);
      return {
        userId,
        online: online.has(userId),
        blockedSender: blockers.has(userId),
        prefs: prefs.get(userId) ?? defaultPrefs,
        hasEmail: verifiedEmailOf(users.get(userId)) !== undefined,
        devices: {
          web: subs.filter((s) => s.userId === userId && s.class === 'web').length,
          mobile: subs.filter((s) => s.userId === userId && s.class === 'mobile').length,
        },
        ...(w ? { window: { openedAt: w.openedAt, count: w.count } } : {}),
      };
    });
    const plan = decide({
      senderId: m.senderId,
      conversationId,
      recipients: facts,
      now,
      windowMs: this.d.opts.collapseMs,
    });
    for (const s of plan.skipped) metrics.decisions.labels(s.reason).inc();
    const sender = users.get(m.senderId);
    const senderName = String(sender?.displayName ?? sender?.username ?? 'Someone');
    const text = previewOf(m);
    await Promise.all(
      plan.notify.map(async (d) => {
        metrics.decisions.labels('notify').inc();
        await this.d.messages.insertIfAbsent(store.notifications, {
          _id: `${m.id}:${d.userId}`,
          userId: d.userId,
          conversationId,
          messageId: m.id,
          senderId: m.senderId,
          text: `${senderName}: ${text}`,
          createdAt: new Date(now).toISOString(),
        });
        const before = windowOf.get(d.userId);
        // A redelivered event was already counted into its window.
        if (before?.lastMessageId === m.id) return;
        const doc: WindowDoc = {
          _id: windowId(d.userId),
          userId: d.userId,
          conversationId,
          openedAt: d.window.openedAt,
          count: d.window.count,
          closesAt: d.window.openedAt + this.d.opts.collapseMs,
          pushed: d.collapse === 'open' ? d.pushNow : (before?.pushed ?? []),
          email: d.email,
          lastMessageId: m.id,
          lastSeq: m.seq,
          preview: text,
          senderName,
        };
        const { _id, ...rest } = doc;
        await store.windows.updateOne({ _id }, { $set: rest }, { upsert: true });
        const n = {
          idempotencyKey: '',
          collapseKey: `conv:${conversationId}`,
          title: senderName,
          body: text,
          conversationId,
          count: 1,
        };
        for (const cls of d.pushNow)
          await this.d.deliverer.push(
            `${m.id}:${d.userId}:${cls}`,
            d.userId,
            cls as 'web' | 'mobile',
            subs,
            n,
          );
      }),
    );
  }

  /** Who of `userIds` holds a live socket on any pod (online or away). */
  private async online(userIds: readonly string[], now: number): Promise<Set<string>> {
    const entries = await Promise.all(userIds.map((u) => this.d.presence.entries(u)));
    return new Set(userIds.filter((_u, i) => aggregatePresence(entries[i]!, now).status !== 'offline'));
  }

  private async deadLetter(record: ConsumedRecord, reason: 'poison' | 'attempts', detail: string) {
    this.d.metrics.dlq.labels(reason).inc();
    this.d.logger.warn(
      {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        conversationId: record.key,
        reason,
        detail,
      },
      'chat event sent to the notifier DLQ',
    );
    await this.d.events.produce(this.d.opts.topicDlq, [deadLetterRecord(record, reason, detail)]);
  }
}
