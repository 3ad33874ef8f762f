import {
  inSpan,
  recordContext,
  SpanKind,
  traceparentOf,
  tracingEnabled,
  type Cache,
  type EventLog,
  type Logger,
  type Subscription,
  HotCounter,
} from '@parley/common';
import client from 'prom-client';
import { chatEventTypes, type ChatEvent } from '../domain/envelopes.ts';
import { parseChatEvent, route } from './routing.ts';

export class RelayMetrics {
  readonly events: client.Counter<'type'>;
  /** events, once an event (hotmetrics.ts). */
  readonly hotEvents: HotCounter<'type'>;
  readonly publishes: client.Counter;
  readonly skipped: client.Counter;

  constructor(registry: client.Registry) {
    const registers = [registry];
    this.events = new client.Counter({
      name: 'parley_fanout_events_total',
      help: 'chat.events records relayed to gateways, by event type.',
      labelNames: ['type'],
      registers,
    });
    this.publishes = new client.Counter({
      name: 'parley_fanout_publishes_total',
      help: 'Pub/sub publishes made by the relay (one per event, more for membership changes).',
      registers,
    });
    this.skipped = new client.Counter({
      name: 'parley_fanout_skipped_total',
      help: 'chat.events records that were not valid envelopes, skipped.',
      registers,
    });
    for (const t of chatEventTypes) this.events.labels(t).inc(0);
    this.hotEvents = new HotCounter(this.events, 'type');
  }
}

/**
 * The relay: a consumer group over `chat.events` (shared by the api pods) that publishes each event
 * to pub/sub (Redis sharded pub/sub in production). At least once: a failed publish fails the batch,
 * which Kafka redelivers; clients de-duplicate by id, and resume closes any gap.
 */
export async function startRelay(opts: {
  events: EventLog;
  cache: Cache;
  topic: string;
  groupId: string;
  logger: Logger;
  metrics: RelayMetrics;
}): Promise<Subscription> {
  return opts.events.subscribe({
    groupId: opts.groupId,
    topics: [opts.topic],
    // Live delivery only: what happened before this group existed is served by resume.
    fromBeginning: false,
    handler: async (batch) => {
      const pubs: Promise<void>[] = [];
      let published = 0;
      // Issued in record order (each call below publishes synchronously before its first await).
      const publish = async (ev: ChatEvent, traceparent = '') => {
        const routed = route(ev, traceparent);
        published += routed.length;
        await Promise.all(routed.map((p) => opts.cache.publish(p.channel, p.message)));
      };
      for (const record of batch) {
        const ev = parseChatEvent(record.value);
        if (!ev) {
          opts.metrics.skipped.inc();
          opts.logger.warn(
            { partition: record.partition, offset: record.offset },
            'skipped a malformed chat event',
          );
          continue;
        }
        opts.metrics.hotEvents.inc(ev.type);
        if (!tracingEnabled()) {
          pubs.push(publish(ev));
          continue;
        }
        pubs.push(
          inSpan(
            `fanout ${ev.type}`,
            {
              kind: SpanKind.PRODUCER,
              parent: recordContext(record),
              attributes: {
                'parley.conversation.id': ev.conversationId,
                'parley.event.id': ev.id,
                ...(typeof ev.data.id === 'string' ? { 'parley.message.id': ev.data.id } : {}),
              },
            },
            (_span, ctx) => publish(ev, traceparentOf(ctx)),
          ),
        );
      }
      // One connection per shard keeps each channel's publishes in order.
      await Promise.all(pubs);
      opts.metrics.publishes.inc(published);
    },
  });
}
