import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, startTracing, waitFor, type Running, type Tracing } from '@parley/common';
import { requireEnv } from '@parley/common/testing';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';
import { runStandalone } from './app.ts';
import { restClient, SocketPool, type User } from './testkit.ts';

/** A client-side span context, as a W3C traceparent the client would send. */
function clientTraceparent(): { traceId: string; spanId: string; header: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
}

/**
 * One message, one trace: a send over REST and one over WebSocket each produce a single connected
 * trace through real Kafka (API → chat.messages → worker → store → chat.events → relay → Redis
 * pub/sub → gateway → socket), with every span's parent earlier in the chain.
 */
describe('tracing: one connected trace per message (real Kafka, FerretDB, Redis Cluster)', function () {
  this.timeout(90_000);
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let running: Running;
  let dir: string;
  let base = '';
  const { call, register } = restClient(() => base);
  const pool = new SocketPool(() => base);
  let alice: User;
  let bob: User;
  let conversation: string;

  before(async () => {
    const env = Object.fromEntries(
      ['MONGO_URL', 'KAFKA_BROKERS', 'REDIS_NODES'].map((k) => [k, requireEnv(k)]),
    );
    tracing = await startTracing(
      { serviceName: 'parley-test', serviceVersion: '0', sampleRatio: 1, exporter },
      createLogger({ level: 'silent', name: 'test' }),
    );
    dir = mkdtempSync(join(tmpdir(), 'parley-trace-'));
    running = await runStandalone({
      ...env,
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_MINUTE: '100000',
      SEND_RATE_PER_MINUTE: '100000',
      RATE_LIMIT_REGISTER_PER_15MIN: '1000',
    });
    await running.ready;
    base = running.url;
    const tag = randomUUID().slice(0, 8);
    [alice, bob] = (await Promise.all([register(`alice${tag}`), register(`bob${tag}`)])) as [User, User];
    conversation = (
      await call('POST', '/v1/conversations', alice.token, {
        type: 'group',
        title: 'traced',
        members: [bob.username],
      })
    ).body.id;
  });
  afterEach(() => pool.closeAll());
  after(async () => {
    await running?.stop('test');
    await tracing?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every span of one trace, once the gateway's delivery span has ended. */
  const traceOf = async (traceId: string) => {
    await waitFor(
      () =>
        exporter
          .getFinishedSpans()
          .some((s) => s.spanContext().traceId === traceId && s.name === 'deliver message.created'),
      { timeoutMs: 30_000, what: `the delivery span of trace ${traceId}` },
    );
    return exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  };

  /** Walks from `leaf` to the root, checking each parent is in the trace and started no later. */
  const chainOf = (spans: ReadableSpan[], leaf: ReadableSpan): ReadableSpan[] => {
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const chain = [leaf];
    for (let s = leaf; s.parentSpanContext?.spanId && byId.has(s.parentSpanContext.spanId);) {
      const parent = byId.get(s.parentSpanContext.spanId)!;
      const t = (x: ReadableSpan) => x.startTime[0] * 1e9 + x.startTime[1];
      expect(t(parent), `${parent.name} starts before ${s.name}`).to.be.at.most(t(s));
      chain.unshift(parent);
      s = parent;
    }
    return chain;
  };

  const expectMessagePath = (
    spans: ReadableSpan[],
    first: string,
    clientSpanId: string,
    sockets: Record<string, string>,
  ) => {
    const deliver = spans.find((s) => s.name === 'deliver message.created')!;
    const chain = chainOf(spans, deliver);
    expect(chain.map((s) => s.name)).to.deep.equal([
      first,
      'publish chat.messages',
      'process chat.messages',
      'store message',
      'publish chat.events',
      'process chat.events',
      'fanout message.created',
      'deliver message.created',
    ]);
    expect(chain.map((s) => s.kind)).to.deep.equal([
      SpanKind.SERVER,
      SpanKind.PRODUCER,
      SpanKind.CONSUMER,
      SpanKind.INTERNAL,
      SpanKind.PRODUCER,
      SpanKind.CONSUMER,
      SpanKind.PRODUCER,
      SpanKind.CONSUMER,
    ]);
    // The root of the server side continues the client's span.
    expect(chain[0]!.parentSpanContext?.spanId).to.equal(clientSpanId);
    // The store span holds the driver's own spans (FerretDB speaks the MongoDB wire protocol).
    const store = chain[3]!;
    const storeChildren = spans.filter((s) => s.parentSpanContext?.spanId === store.spanContext().spanId);
    expect(storeChildren.map((s) => s.name)).to.include('mongodb.insert');
    expect(store.attributes['parley.conversation.id']).to.equal(conversation);
    expect(store.attributes['parley.message.seq']).to.be.a('number');
    // The delivery names every socket it reached, and whose it is.
    expect(deliver.attributes['parley.ws.sockets']).to.equal(Object.keys(sockets).length);
    expect(
      Object.fromEntries(
        deliver.events.map((e) => [e.attributes?.['parley.ws.socket_id'], e.attributes?.['enduser.id']]),
      ),
    ).to.deep.equal(sockets);
    // Nothing in the trace failed.
    expect(spans.filter((s) => s.status.code === 2).map((s) => s.name)).to.deep.equal([]);
  };

  it('follows a REST send from the HTTP request to the recipient’s socket', async () => {
    const bobWs = await pool.connect(bob);
    const bobSocket = bobWs.of('ready')[0]!.connectionId as string;
    const client = clientTraceparent();
    const sent = await call(
      'POST',
      `/v1/conversations/${conversation}/messages`,
      alice.token,
      { clientMsgId: randomUUID(), body: 'traced over REST' },
      { traceparent: client.header },
    );
    expect(sent.status).to.equal(202);
    expect(sent.headers.get('traceresponse')).to.match(new RegExp(`^00-${client.traceId}-[0-9a-f]{16}-01$`));
    const event = await bobWs.next('message.created', { traceId: client.traceId });
    expect((event.data as { id: string }).id).to.equal(sent.body.id);

    const spans = await traceOf(client.traceId);
    expectMessagePath(spans, 'POST /v1/conversations/:id/messages', client.spanId, { [bobSocket]: bob.id });
  });

  it('follows a WebSocket send, and the ack and the delivered event carry the trace id', async () => {
    const [aliceWs, bobWs] = await Promise.all([pool.connect(alice), pool.connect(bob)]);
    const bobSocket = bobWs.of('ready')[0]!.connectionId as string;
    const client = clientTraceparent();
    const clientMsgId = randomUUID();
    aliceWs.send({
      type: 'send',
      id: 'f1',
      conversationId: conversation,
      clientMsgId,
      body: 'traced over WebSocket',
      traceparent: client.header,
    });
    const ack = await aliceWs.next('ack', { id: 'f1' });
    expect(ack.traceId).to.equal(client.traceId);
    const event = await bobWs.next('message.created', { traceId: client.traceId });
    expect((event.data as { id: string }).id).to.equal(ack.messageId);
    expect(event.traceparent).to.match(new RegExp(`^00-${client.traceId}-[0-9a-f]{16}-01$`));

    const spans = await traceOf(client.traceId);
    const aliceSocket = aliceWs.of('ready')[0]!.connectionId as string;
    expectMessagePath(spans, 'ws send', client.spanId, { [bobSocket]: bob.id, [aliceSocket]: alice.id });
  });

  it('starts a trace of its own for a send that names none, and the ack names it', async () => {
    const aliceWs = await pool.connect(alice);
    aliceWs.send({
      type: 'send',
      id: 'f2',
      conversationId: conversation,
      clientMsgId: randomUUID(),
      body: 'x',
    });
    const ack = await aliceWs.next('ack', { id: 'f2' });
    expect(ack.traceId).to.match(/^[0-9a-f]{32}$/);
    const root = await waitFor(
      () =>
        exporter
          .getFinishedSpans()
          .find((s) => s.spanContext().traceId === ack.traceId && s.name === 'ws send'),
      { what: 'the ws send span' },
    );
    expect(root.parentSpanContext).to.equal(undefined);
  });
});
