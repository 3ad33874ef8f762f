/**
 * Message pipeline throughput and latency: REST send → Kafka → worker → stored, as a client sees
 * it through `POST …/messages?wait=persisted` (201 once stored). Embedded and real local stack.
 *   node --import tsx scripts/bench/pipeline.ts [--duration 10] [--concurrency 16] [--conversations 32] [--stack embedded,real]
 * The real stack needs scripts/stack/up.sh and `eval "$(bash scripts/stack/env.sh)"`.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { load, startServer, table } from './lib.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    conversations: { type: 'string', default: '32' },
    stack: { type: 'string', default: 'embedded,real' },
  },
});
const durationMs = Number(values.duration) * 1000;
const concurrency = Number(values.concurrency);
const PASSWORD = 'benchmark passphrase 42';

async function json(res: Response) {
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${res.status} ${JSON.stringify(body)}`);
  return body as never;
}

const rows: Record<string, string | number>[] = [];
for (const stack of values.stack!.split(',')) {
  const tag = randomBytes(3).toString('hex');
  const env: Record<string, string> = {
    RATE_LIMIT_PER_MINUTE: '1000000',
    RATE_LIMIT_REGISTER_PER_15MIN: '100000',
    TOPIC_CHAT_MESSAGES: `bench-${tag}.chat.messages`,
    TOPIC_CHAT_EVENTS: `bench-${tag}.chat.events`,
    TOPIC_CHAT_DLQ: `bench-${tag}.chat.messages.dlq`,
    PERSIST_WAIT_MS: '30000',
    WORKER_GROUP_ID: `bench-${tag}.message-worker`,
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
    rows.push({
      stack,
      'stored msg/s': r.perSecond,
      'p50 ms': r.p50ms,
      'p99 ms': r.p99ms,
      sent: r.requests,
      'not stored in time': r.errors,
    });
  } finally {
    await server.stop();
  }
}
console.log(
  `\npipeline: POST …/messages?wait=persisted (send → Kafka acks=all → worker → stored), ${concurrency} concurrent senders, ${values.conversations} conversations, ${durationMs / 1000} s, ${new Date().toISOString()}`,
);
console.log(table(rows));
