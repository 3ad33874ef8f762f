import { context, ROOT_CONTEXT, trace, type Context, type Span } from '@opentelemetry/api';
import { contextFrom, failSpan, SpanKind, tracer, traceparentOf, willRecord } from '../tracing.ts';
import type { ConsumedRecord, EventLog, LogRecord } from './port.ts';

/** Each consumed record's processing context (its `process` span), while its batch is handled. */
const processing = new WeakMap<ConsumedRecord, Context>();

/**
 * The context to continue a consumed record's trace in: its `process` span while the traced log
 * delivers it, else what its headers carry, else the root.
 */
export function recordContext(record: ConsumedRecord): Context {
  return processing.get(record) ?? contextFrom(record.headers);
}

/** Headers that make a produced record continue `ctx`'s trace (none when `ctx` holds no span). */
export function traceHeaders(ctx: Context): Record<string, string> {
  const traceparent = traceparentOf(ctx);
  return traceparent ? { traceparent } : {};
}

/**
 * Traces an event log (either adapter) with W3C trace context in record headers:
 * - produce: one `publish <topic>` producer span per record, child of the trace its headers name
 *   (a worker producing for many messages at once keeps each in its own trace) or else of the
 *   active context; its context goes out in the record's `traceparent` header;
 * - subscribe: one `process <topic>` consumer span per record, child of the producer's span, open
 *   while the batch is handled; handlers continue it with `recordContext(record)`.
 * Used only when tracing is on, so the off path is the bare adapter.
 */
export function tracedEventLog(log: EventLog): EventLog {
  const system = log.kind === 'kafka' ? 'kafka' : 'parley.embedded';
  const base = (topic: string, op: 'send' | 'process') => ({
    'messaging.system': system,
    'messaging.destination.name': topic,
    'messaging.operation.type': op,
  });
  return {
    kind: log.kind,
    ensureTopics: (specs) => log.ensureTopics(specs),
    committedOffsets: (g, t) => log.committedOffsets(g, t),
    endOffsets: (t) => log.endOffsets(t),
    ping: () => log.ping(),
    close: () => log.close(),
    // Optional members pass through as well: without the commit schedule, embedded sends fall
    // back to a commit per turn and cost a third more CPU a message with tracing on (#19).
    ...(log.commitDueInMs ? { commitDueInMs: () => log.commitDueInMs!() } : {}),

    async produce(topic, records) {
      const spans: Span[] = [];
      const traced: LogRecord[] = records.map((r) => {
        const parent = r.headers?.traceparent ? contextFrom(r.headers) : context.active();
        // Not recorded: no span; the record carries on the parent's (unsampled) trace, if any.
        if (!willRecord(parent)) {
          if (r.headers?.traceparent) return r;
          const headers = traceHeaders(parent);
          return headers.traceparent ? { ...r, headers: { ...r.headers, ...headers } } : r;
        }
        const span = tracer().startSpan(
          `publish ${topic}`,
          {
            kind: SpanKind.PRODUCER,
            attributes: { ...base(topic, 'send'), 'messaging.kafka.message.key': r.key },
          },
          parent,
        );
        spans.push(span);
        return { ...r, headers: { ...r.headers, ...traceHeaders(trace.setSpan(parent, span)) } };
      });
      try {
        await log.produce(topic, traced);
      } catch (err) {
        for (const s of spans) failSpan(s, err);
        throw err;
      } finally {
        for (const s of spans) s.end();
      }
    },

    subscribe(opts) {
      return log.subscribe({
        ...opts,
        handler: async (batch) => {
          const spans: Span[] = [];
          for (const record of batch) {
            // No trace to continue (recordContext gives the root), and none started at sampling 0.
            if (!record.headers?.traceparent && !willRecord(ROOT_CONTEXT)) continue;
            const parent = contextFrom(record.headers);
            if (!willRecord(parent)) {
              processing.set(record, parent);
              continue;
            }
            const span = tracer().startSpan(
              `process ${record.topic}`,
              {
                kind: SpanKind.CONSUMER,
                attributes: {
                  ...base(record.topic, 'process'),
                  'messaging.consumer.group.name': opts.groupId,
                  'messaging.destination.partition.id': String(record.partition),
                  'messaging.kafka.offset': Number(record.offset),
                  'messaging.batch.message_count': batch.length,
                },
              },
              parent,
            );
            processing.set(record, trace.setSpan(parent, span));
            spans.push(span);
          }
          // Library spans (store, cache) inside the handler join the record's trace when there is
          // one record; for a batch they need the handler to pick a record's context.
          const active = (batch.length === 1 && processing.get(batch[0]!)) || ROOT_CONTEXT;
          try {
            if (active === context.active()) await opts.handler(batch);
            else await context.with(active, () => opts.handler(batch));
          } catch (err) {
            for (const s of spans) failSpan(s, err);
            throw err;
          } finally {
            for (const s of spans) s.end();
            for (const r of batch) processing.delete(r);
          }
        },
      });
    },
  };
}
