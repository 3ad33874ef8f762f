import { HotCounter } from '@parley/common';
import client from 'prom-client';
import { deviceClasses } from './decide.ts';

export const deliveryOutcomes = ['sent', 'failed', 'bounced', 'gone', 'rejected'] as const;
export type DeliveryOutcome = (typeof deliveryOutcomes)[number];
const decisions = ['notify', 'sender', 'online', 'blocked', 'muted'] as const;

/** The notifier's series, registered at zero so dashboards and alerts have no gaps. */
export class NotifyMetrics {
  readonly events: client.Counter;
  readonly decisions: client.Counter<'outcome'>;
  /** events and decisions, once or more a message (hotmetrics.ts). */
  readonly hot: { events: HotCounter<string>; decisions: HotCounter<'outcome'> };
  readonly deliveries: client.Counter<'channel' | 'outcome'>;
  readonly retries: client.Counter<'channel'>;
  readonly dlq: client.Counter<'reason'>;
  readonly sendSeconds: client.Histogram<'channel'>;
  readonly summaries: client.Counter;

  constructor(registry: client.Registry) {
    const registers = [registry];
    this.events = new client.Counter({
      name: 'parley_notify_events_total',
      help: 'message.created events the notifier handled.',
      registers,
    });
    this.decisions = new client.Counter({
      name: 'parley_notify_decisions_total',
      help: 'Members considered for a notification, by outcome (notify, or why not: sender, online, blocked, muted).',
      labelNames: ['outcome'],
      registers,
    });
    this.deliveries = new client.Counter({
      name: 'parley_notify_deliveries_total',
      help: 'Provider deliveries by channel (email, web, mobile) and final outcome (failed: retries exhausted; bounced: SMTP 5xx; gone: subscription removed; rejected: refused, e.g. oversized).',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    this.retries = new client.Counter({
      name: 'parley_notify_send_retries_total',
      help: 'Provider sends retried after a retryable failure (outage, 429, 5xx), by channel.',
      labelNames: ['channel'],
      registers,
    });
    this.dlq = new client.Counter({
      name: 'parley_notify_dlq_total',
      help: 'chat.events records the notifier sent to its DLQ (poison: not a valid event; attempts: failed too often).',
      labelNames: ['reason'],
      registers,
    });
    this.sendSeconds = new client.Histogram({
      name: 'parley_notify_send_seconds',
      help: 'Time of one provider send attempt, by channel.',
      labelNames: ['channel'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.summaries = new client.Counter({
      name: 'parley_notify_windows_closed_total',
      help: 'Collapse windows closed (each may send one "N new messages" summary and one mail).',
      registers,
    });
    for (const o of decisions) this.decisions.labels(o).inc(0);
    for (const c of deviceClasses) {
      this.retries.labels(c).inc(0);
      this.sendSeconds.labels(c);
      for (const o of deliveryOutcomes) this.deliveries.labels(c, o).inc(0);
    }
    for (const r of ['poison', 'attempts']) this.dlq.labels(r).inc(0);
    this.hot = { events: new HotCounter(this.events), decisions: new HotCounter(this.decisions, 'outcome') };
  }
}
