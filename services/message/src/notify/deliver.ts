import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, type Logger } from '@parley/common';
import { insertIfAbsent } from '../domain/store.ts';
import type { Mail, MailChannel, Outgoing, PushChannel, SendResult, WebPushTarget } from './channels/port.ts';
import type { DeviceClass } from './decide.ts';
import type { DeliveryOutcome, NotifyMetrics } from './metrics.ts';
import type { NotificationStore, PushSubscription } from './store.ts';

export interface Channels {
  mail?: MailChannel;
  web?: PushChannel<WebPushTarget>;
  mobile?: PushChannel<{ token: string }>;
}

/**
 * Sends through the providers at least once and, per idempotency key, at most once successfully:
 * a delivery record is claimed before the send and marked after. A redelivered event finds `sent`
 * and skips; a crash between send and mark sends again (at least once). Retryable failures back
 * off exponentially; a gone subscription is removed; a bounce or refusal is final for that
 * delivery only.
 */
export class Deliverer {
  constructor(
    private readonly store: NotificationStore,
    readonly channels: Channels,
    private readonly opts: { sendAttempts: number; retryInitialMs: number },
    private readonly metrics: NotifyMetrics,
    private readonly logger: Logger,
  ) {}

  /** Pushes to every device of one class of one user (one delivery: one key). */
  async push(
    key: string,
    userId: string,
    cls: Exclude<DeviceClass, 'email'>,
    subs: PushSubscription[],
    n: Outgoing,
  ) {
    const targets = subs.filter((s) => s.userId === userId && s.class === cls);
    if (targets.length === 0) return;
    await this.once(key, userId, cls, async () => {
      const results = await Promise.all(
        targets.map((s) => this.pushOne(cls, s, { ...n, idempotencyKey: key })),
      );
      // One device that took it is a delivery; otherwise the worst outcome stands.
      return results.find((r) => r.ok) ?? results[0]!;
    });
  }

  async mail(key: string, userId: string, mail: Omit<Mail, 'idempotencyKey'>) {
    const ch = this.channels.mail;
    if (!ch) return;
    await this.once(key, userId, 'email', () =>
      this.withRetry('email', () => ch.send({ ...mail, idempotencyKey: key })),
    );
  }

  private async pushOne(cls: 'web' | 'mobile', s: PushSubscription, n: Outgoing): Promise<SendResult> {
    const r =
      cls === 'web'
        ? this.channels.web && s.endpoint && s.keys
          ? await this.withRetry('web', () =>
              this.channels.web!.send({ endpoint: s.endpoint!, keys: s.keys! }, n),
            )
          : undefined
        : this.channels.mobile && s.token
          ? await this.withRetry('mobile', () => this.channels.mobile!.send({ token: s.token! }, n))
          : undefined;
    if (!r) return { ok: false, kind: 'rejected', error: `${cls} push is not configured` };
    if (!r.ok && r.kind === 'gone') {
      await this.store.subscriptions.deleteMany({ _id: s._id });
      this.logger.info(
        { userId: s.userId, deviceId: s.deviceId, class: cls },
        'push subscription gone, removed',
      );
    }
    return r;
  }

  private async withRetry(channel: DeviceClass, send: () => Promise<SendResult>): Promise<SendResult> {
    const policy = { initialMs: this.opts.retryInitialMs, maxMs: 30_000, factor: 2, jitter: 0.2 };
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      const r = await send();
      this.metrics.sendSeconds.labels(channel).observe((performance.now() - t0) / 1000);
      if (r.ok || r.kind !== 'retry' || attempt + 1 >= this.opts.sendAttempts) return r;
      this.metrics.retries.labels(channel).inc();
      await sleep(backoffDelay(attempt, policy));
    }
  }

  /** Claims the key, sends, records the outcome; a key already final is not sent again. */
  private async once(key: string, userId: string, channel: DeviceClass, send: () => Promise<SendResult>) {
    const at = new Date().toISOString();
    const claimed = await insertIfAbsent(this.store.deliveries, {
      _id: key,
      status: 'pending',
      channel,
      userId,
      attempts: 1,
      at,
    });
    if (!claimed) {
      const d = await this.store.deliveries.findById(key);
      if (d && d.status !== 'pending') return;
      await this.store.deliveries.updateOne({ _id: key }, { $inc: { attempts: 1 }, $set: { at } });
    }
    const r = await send();
    const outcome: DeliveryOutcome = r.ok
      ? 'sent'
      : r.kind === 'gone'
        ? 'gone'
        : r.kind === 'retry'
          ? 'failed'
          : r.error.startsWith('bounced')
            ? 'bounced'
            : 'rejected';
    this.metrics.deliveries.labels(channel, outcome).inc();
    if (!r.ok)
      this.logger.warn({ userId, channel, key, outcome, error: r.error }, 'notification not delivered');
    await this.store.deliveries.updateOne(
      { _id: key },
      {
        $set: {
          status: r.ok ? 'sent' : r.kind === 'gone' ? 'gone' : 'failed',
          ...(r.ok ? {} : { error: r.error }),
        },
      },
    );
  }
}
