import { expect } from 'chai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { EmbeddedEventLog } from './eventlog/embedded.ts';
import { eventLogContract } from './eventlog/contract.ts';
import type { ConsumedRecord } from './eventlog/port.ts';
import { recordContext, traceHeaders, tracedEventLog } from './eventlog/traced.ts';
import { createLogger, traceFields } from './logger.ts';
import { waitFor } from './retry.ts';
import {
  context,
  contextFrom,
  inSpan,
  ROOT_CONTEXT,
  SpanKind,
  startTracing,
  traceIdOf,
  traceparentOf,
  tracingEnabled,
  type Tracing,
} from './tracing.ts';

const silent = createLogger({ level: 'silent', name: 'test' });

describe('tracing off (no endpoint)', () => {
  it('loads no SDK: no span is active, nothing propagates, logs carry no ids', async () => {
    const t = await startTracing({ serviceName: 's', serviceVersion: '0', sampleRatio: 1 }, silent);
    expect(t.enabled).to.equal(false);
    expect(tracingEnabled()).to.equal(false);
    await inSpan('x', {}, async (span) => {
      expect(span.isRecording()).to.equal(false);
      expect(traceparentOf(context.active())).to.equal('');
      expect(traceFields()).to.deep.equal({});
    });
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(contextFrom({ traceparent: tp })).to.equal(ROOT_CONTEXT);
  });
});

describe('tracing on (in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  before(async () => {
    tracing = await startTracing({ serviceName: 's', serviceVersion: '0', sampleRatio: 1, exporter }, silent);
  });
  after(async () => {
    await tracing.shutdown();
    expect(tracingEnabled()).to.equal(false);
  });
  beforeEach(() => exporter.reset());
  /** Ended spans reach the exporter once the resource's detected attributes settle. */
  const finished = async (n: number) => {
    await waitFor(() => exporter.getFinishedSpans().length >= n);
    return exporter.getFinishedSpans();
  };

  it('nests spans, marks a throw as an error and rethrows it', async () => {
    const err = await inSpan('outer', {}, () =>
      inSpan('inner', {}, async () => Promise.reject(new Error('boom'))),
    )
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect((err as Error).message).to.equal('boom');
    const [inner, outer] = await finished(2);
    expect(inner!.parentSpanContext?.spanId).to.equal(outer!.spanContext().spanId);
    expect(inner!.status).to.deep.include({ code: 2, message: 'boom' });
    expect(inner!.events.map((e) => e.name)).to.deep.equal(['exception']);
  });

  it('continues a W3C traceparent and writes one back', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await inSpan('child', { parent: contextFrom({ traceparent: tp }) }, async (_span, ctx) => {
      expect(traceIdOf(ctx)).to.equal('0af7651916cd43dd8448eb211c80319c');
      expect(traceparentOf(ctx)).to.match(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    });
    expect((await finished(1))[0]!.parentSpanContext?.spanId).to.equal('b7ad6b7169203331');
  });

  // The one test of this file on a (loopback) port, kept in the unit phase on purpose: tracing
  // started and shut down once in a process does not patch http again, so run in the integration
  // phase it would leave services/standalone/src/tracing.int.test.ts without HTTP spans.
  it('traces fetch() and the HTTP server it calls as one trace (traceparent on the wire)', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
      await inSpan('caller', {}, async () => void (await (await fetch(url)).text()));
      const spans = await finished(3);
      const caller = spans.find((s) => s.name === 'caller')!;
      const client = spans.find((s) => s.kind === SpanKind.CLIENT)!;
      const served = spans.find((s) => s.kind === SpanKind.SERVER)!;
      expect(client.parentSpanContext?.spanId).to.equal(caller.spanContext().spanId);
      expect(served.parentSpanContext?.spanId).to.equal(client.spanContext().spanId);
      expect(served.spanContext().traceId).to.equal(caller.spanContext().traceId);
    } finally {
      server.close();
    }
  });

  it('puts the active trace and span ids on every log line', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ level: 'info', name: 't' }, sink);
    logger.info('outside');
    let ids: { traceId: string; spanId: string } | undefined;
    await inSpan('op', {}, async (span) => {
      ids = span.spanContext();
      logger.child({ conversationId: 'c1' }).info('inside');
    });
    await waitFor(() => lines.length === 2);
    expect(lines[0]).to.not.have.property('trace_id');
    expect(lines[1]).to.include({
      msg: 'inside',
      conversationId: 'c1',
      trace_id: ids!.traceId,
      span_id: ids!.spanId,
      trace_flags: '01',
    });
  });

  it('keeps each record of a batch in its own trace, producer → consumer', async () => {
    const log = tracedEventLog(new EmbeddedEventLog({ db: ':memory:' }));
    await log.ensureTopics([{ name: 't', partitions: 1 }]);
    const traces: string[] = [];
    // Two sends in two traces; the second names its parent in its headers, as the worker does.
    await inSpan('send-a', {}, async (_s, ctx) => {
      traces.push(traceIdOf(ctx)!);
      await log.produce('t', [{ key: 'k', value: 'a' }]);
    });
    const b = await inSpan('send-b', {}, async (_s, ctx) => {
      traces.push(traceIdOf(ctx)!);
      return traceHeaders(ctx);
    });
    await log.produce('t', [{ key: 'k', value: 'b', headers: b }]);
    const continued: string[] = [];
    const sub = await log.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      maxBatch: 10,
      handler: async (batch: readonly ConsumedRecord[]) => {
        for (const r of batch) continued.push(traceIdOf(recordContext(r))!);
      },
    });
    await waitFor(() => continued.length === 2);
    await sub.stop();
    await log.close();
    expect(continued).to.deep.equal(traces);
    const spans = await finished(6);
    for (const traceId of traces) {
      const mine = spans.filter((s) => s.spanContext().traceId === traceId);
      const publish = mine.find((s) => s.name === 'publish t')!;
      const process = mine.find((s) => s.name === 'process t')!;
      expect(publish.kind).to.equal(SpanKind.PRODUCER);
      expect(process.kind).to.equal(SpanKind.CONSUMER);
      expect(process.parentSpanContext?.spanId).to.equal(publish.spanContext().spanId);
      expect(process.attributes).to.include({
        'messaging.system': 'parley.embedded',
        'messaging.destination.name': 't',
        'messaging.consumer.group.name': 'g',
      });
    }
  });

  it('marks the consumer spans of a failed batch as errors (and the batch is redelivered)', async () => {
    const log = tracedEventLog(new EmbeddedEventLog({ db: ':memory:' }));
    await log.ensureTopics([{ name: 't', partitions: 1 }]);
    await log.produce('t', [{ key: 'k', value: 'x' }]);
    let calls = 0;
    const sub = await log.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      handler: async () => {
        if (++calls === 1) throw new Error('store down');
      },
    });
    await waitFor(() => calls >= 2, { timeoutMs: 10_000 });
    await sub.stop();
    await log.close();
    const processed = (await finished(3)).filter((s) => s.name === 'process t');
    expect(processed.map((s) => s.status.code)).to.deep.equal([2, 0]);
  });

  it('passes the embedded log’s commit schedule through, which embedded sends share', async () => {
    const log = tracedEventLog(new EmbeddedEventLog({ db: ':memory:' }));
    await log.ensureTopics([{ name: 't', partitions: 1 }]);
    expect(log.commitDueInMs?.()).to.equal(undefined);
    const produced = log.produce('t', [{ key: 'k', value: 'x' }]);
    expect(log.commitDueInMs?.()).to.be.a('number');
    await produced;
    expect(log.commitDueInMs?.()).to.equal(undefined);
    await log.close();
  });

  // The decorator keeps the port's semantics: the same contract as the bare adapters.
  eventLogContract('embedded, traced', async (metrics) =>
    tracedEventLog(new EmbeddedEventLog({ db: ':memory:', metrics })),
  );
});
