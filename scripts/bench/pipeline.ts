/**
 * Message pipeline throughput and latency: REST send → Kafka → worker → stored, as a client sees
 * it through `POST …/messages?wait=persisted` (201 once stored). Embedded and real local stack.
 *   node --import tsx scripts/bench/pipeline.ts [--duration 10] [--concurrency 16] [--conversations 32]
 *     [--stack embedded,real] [--tracing off,ratio0,ratio1] [--runs 1]
 * `--tracing`: off (no endpoint: no SDK), ratio0 (SDK on, sampling 0) and ratio1 (every message
 * traced, exported over OTLP/HTTP to a sink in this process that counts what it receives); each
 * stack runs the modes in turn, `--runs` times, and the summary compares each mode's median with off.
 * The real stack needs scripts/stack/up.sh and `eval "$(bash scripts/stack/env.sh)"`.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { load, startServer, table } from './lib.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    conversations: { type: 'string', default: '32' },
    stack: { type: 'string', default: 'embedded,real' },
    tracing: { type: 'string', default: 'off' },
    runs: { type: 'string', default: '1' },
  },
});
const modes = values.tracing!.split(',') as ('off' | 'ratio0' | 'ratio1')[];
for (const m of modes)
  if (!['off', 'ratio0', 'ratio1'].includes(m)) throw new Error(`--tracing: unknown mode ${m}`);

/** An OTLP/HTTP endpoint that accepts and counts trace exports (a collector's cost is not ours). */
const sink = { requests: 0, bytes: 0 };
const collector = createServer((req, res) => {
  req.on('data', (c: Buffer) => (sink.bytes += c.length));
  req.on('end', () => {
    sink.requests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
const tracingEnv = (mode: string): Record<string, string> =>
  mode === 'off'
    ? {}
    : {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint,
        OTEL_TRACES_SAMPLER_ARG: mode === 'ratio0' ? '0' : '1',
      };
const durationMs = Number(values.duration) * 1000;
const concurrency = Number(values.concurrency);
const PASSWORD = 'benchmark passphrase 42';

async function json(res: Response) {
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(body)}`);
  return body as never;
}

const rows: Record<string, string | number>[] = [];
const results: { stack: string; mode: string; perSecond: number; p99ms: number }[] = [];
const plan = values
  .stack!.split(',')
  .flatMap((stack) =>
    Array.from({ length: Number(values.runs) }, () => modes.map((mode) => ({ stack, mode }))).flat(),
  );
for (const { stack, mode } of plan) {
  const tag = randomBytes(3).toString('hex');
  const exported = { ...sink };
  const env: Record<string, string> = {
    RATE_LIMIT_PER_MINUTE: '1000000',
    SEND_RATE_PER_MINUTE: '1000000',
    RATE_LIMIT_REGISTER_PER_15MIN: '100000',
    TOPIC_CHAT_MESSAGES: `bench-${tag}.chat.messages`,
    TOPIC_CHAT_EVENTS: `bench-${tag}.chat.events`,
    TOPIC_CHAT_DLQ: `bench-${tag}.chat.messages.dlq`,
    PERSIST_WAIT_MS: '30000',
    WORKER_GROUP_ID: `bench-${tag}.message-worker`,
    ...tracingEnv(mode),
  };
  if (stack === 'real')
    for (const k of ['MONGO_URL', 'KAFKA_BROKERS', 'REDIS_NODES']) {
      if (!process.env[k]) throw new Error(`${k} is not set: eval "$(bash scripts/stack/env.sh)"`);
      env[k] = process.env[k]!;
    }
  const server = await startServer(env);
  try {
    const post = (path: string, token: string | undefined, body: unknown) =>
      fetch(server.url + path, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
    const users: { username: string; token: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const username = `pipe_${tag}_${i}`;
      const r: { tokens: { accessToken: string } } = await json(
        await post('/v1/auth/register', undefined, { username, password: PASSWORD }),
      );
      users.push({ username, token: r.tokens.accessToken });
    }
    const convs: string[] = [];
    for (let i = 0; i < Number(values.conversations); i++) {
      const r: { id: string } = await json(
        await post('/v1/conversations', users[0]!.token, {
          type: 'group',
          title: `bench ${i}`,
          members: users.slice(1).map((u) => u.username),
        }),
      );
      convs.push(r.id);
    }
    let n = 0;
    const send = async (i: number) => {
      const res = await post(
        `/v1/conversations/${convs[i % convs.length]}/messages?wait=persisted`,
        users[i % users.length]!.token,
        {
          clientMsgId: `b-${n++}`,
          body: `benchmark message ${i}`,
        },
      );
      await res.arrayBuffer();
      return res.status === 201;
    };
    await load(concurrency, 2000, send); // warm-up
    const r = await load(concurrency, durationMs, send);
    results.push({ stack, mode, perSecond: r.perSecond, p99ms: r.p99ms });
    rows.push({
      stack,
      tracing: mode,
      'stored msg/s': r.perSecond,
      'p50 ms': r.p50ms,
      'p99 ms': r.p99ms,
      sent: r.requests,
      'not stored in time': r.errors,
      'OTLP exports': sink.requests - exported.requests,
      'OTLP KB': Math.round((sink.bytes - exported.bytes) / 1024),
    });
  } finally {
    await server.stop();
  }
}
collector.close();
console.log(
  `\npipeline: POST …/messages?wait=persisted (send → Kafka acks=all → worker → stored), ${concurrency} concurrent senders, ${values.conversations} conversations, ${durationMs / 1000} s, ${new Date().toISOString()}`,
);
console.log(table(rows));
if (modes.length > 1) {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const summary = [];
  for (const stack of new Set(results.map((r) => r.stack))) {
    const of = (mode: string) => results.filter((r) => r.stack === stack && r.mode === mode);
    const off = median(of('off').map((r) => r.perSecond));
    for (const mode of modes) {
      const perSecond = median(of(mode).map((r) => r.perSecond));
      summary.push({
        stack,
        tracing: mode,
        'median stored msg/s': perSecond,
        'median p99 ms': median(of(mode).map((r) => r.p99ms)),
        'vs off': off ? (perSecond / off).toFixed(2) : '-',
      });
    }
  }
  console.log(`\ntracing overhead: median of ${values.runs} run(s) per mode`);
  console.log(table(summary));
}
