import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authModule, authSettings, generateSigningJwk } from '@parley/auth';
import { MongoDocumentStore, requireEnv } from '@parley/common/testing';
import { q, waitFor, type Infer, type Running } from '@parley/common';
import { runService } from '@parley/common/service';
import { messageSettings } from './config.ts';
import { messageApiModule } from './module.ts';

const WORKER_MAIN = new URL('./main.ts', import.meta.url).pathname;

/**
 * Kills the worker (SIGKILL) in the middle of a stream of messages across many conversations,
 * restarts it, and checks that every acked message is stored exactly once with gap-free seqs.
 */
describe('worker crash (real stack)', function () {
  this.timeout(240_000);
  const spec = (() => {
    const { role: _r, ...m } = messageSettings;
    return { ...authSettings, ...m };
  })();
  type Cfg = Infer<typeof spec>;
  let api: Running;
  let worker: ChildProcess | undefined;
  let dir: string;
  let env: Record<string, string>;
  let workerLog = '';

  const startWorker = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_MAIN], {
      env: { ...process.env, ...env, ROLE: 'worker', PORT: '0', MANAGEMENT_PORT: '0', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (workerLog += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
    return child;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-crash-'));
    const tag = randomBytes(3).toString('hex');
    env = {
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      MONGO_URL: requireEnv('MONGO_URL'),
      KAFKA_BROKERS: requireEnv('KAFKA_BROKERS'),
      REDIS_NODES: requireEnv('REDIS_NODES'),
      REDIS_KEY_PREFIX: `parley-crash-${tag}:`,
      TOPIC_CHAT_MESSAGES: `crash-${tag}.chat.messages`,
      TOPIC_CHAT_EVENTS: `crash-${tag}.chat.events`,
      TOPIC_CHAT_DLQ: `crash-${tag}.chat.messages.dlq`,
      CHAT_TOPIC_PARTITIONS: '8',
      WORKER_GROUP_ID: `crash-${tag}.message-worker`,
      RATE_LIMIT_PER_MINUTE: '1000000',
      SEND_RATE_PER_MINUTE: '1000000',
      RATE_LIMIT_REGISTER_PER_15MIN: '100000',
    };
    api = await runService({
      name: 'parley-api',
      spec,
      env: {
        ...env,
        PORT: '0',
        MANAGEMENT_PORT: '0',
        LOG_LEVEL: 'silent',
        JWT_SIGNING_KEYS: JSON.stringify([await generateSigningJwk('k')]),
      },
      modules: () => [authModule<Cfg>(), messageApiModule<Cfg>()],
    });
    await api.ready;
  });

  after(async () => {
    worker?.kill('SIGKILL');
    await api?.stop('test');
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores every acked message exactly once with gap-free seqs after a SIGKILL mid-stream', async () => {
    const inject = (method: string, url: string, token?: string, body?: unknown) =>
      api.inject({
        method: method as 'POST',
        url,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { payload: JSON.stringify(body) } : {}),
      });
    const users: { username: string; token: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const username = `crash_${randomBytes(4).toString('hex')}`;
      const r = await inject('POST', '/v1/auth/register', undefined, {
        username,
        password: 'a long and unusual passphrase',
      });
      users.push({ username, token: r.json().tokens.accessToken as string });
    }
    const convs: string[] = [];
    for (let i = 0; i < 20; i++) {
      const a = users[i % users.length]!;
      const others = users.filter((u) => u !== a).slice(0, 2 + (i % 3));
      const r = await inject('POST', '/v1/conversations', a.token, {
        type: 'group',
        title: `c${i}`,
        members: others.map((u) => u.username),
      });
      convs.push(r.json().id as string);
    }
    worker = startWorker();
    const total = 2000;
    const acked = new Map<string, string>(); // message id → conversation
    let sent = 0;
    let killedAt = -1;
    const sender = async (w: number) => {
      for (let i = w; i < total; i += 8) {
        const conv = convs[i % convs.length]!;
        const u = users[i % users.length]!;
        // Group members include everyone in users[] often enough; fall back to the creator.
        const token = u.token;
        for (let attempt = 0; attempt < 50; attempt++) {
          const r = await inject('POST', `/v1/conversations/${conv}/messages`, token, {
            clientMsgId: `m-${i}`,
            body: `message ${i}`,
          });
          if (r.statusCode === 202) {
            acked.set(r.json().id, conv);
            break;
          }
          if (r.statusCode === 404) break; // not a member of that group: skip
          await new Promise((res) => setTimeout(res, 100));
        }
        sent++;
        if (sent === Math.floor(total / 3) && killedAt < 0) {
          killedAt = sent;
          worker!.kill('SIGKILL');
          await new Promise((res) => setTimeout(res, 1000));
          worker = startWorker();
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => sender(w)));
    expect(killedAt).to.be.greaterThan(0);
    expect(acked.size).to.be.greaterThan(total / 2);

    const store = await MongoDocumentStore.connect({ url: env.MONGO_URL! });
    try {
      const messages = await store.collection<{ _id: string; conversationId: string; seq: number }>(
        'messages',
      );
      await waitFor(async () => (await messages.count({ conversationId: q.in(convs) })) >= acked.size, {
        timeoutMs: 180_000,
        intervalMs: 500,
        what: `${acked.size} acked messages stored (worker log: ${workerLog.slice(-2000)})`,
      });
      const stored = await messages.find({ conversationId: q.in(convs) }, { limit: 100_000 });
      const ids = new Set(stored.map((m) => m._id));
      for (const id of acked.keys()) expect(ids.has(id), `acked ${id} stored`).to.equal(true);
      expect(stored.length, 'nothing stored that was not acked').to.equal(acked.size);
      for (const conv of convs) {
        const seqs = stored
          .filter((m) => m.conversationId === conv)
          .map((m) => m.seq)
          .sort((a, b) => a - b);
        expect(seqs, `seqs of ${conv}`).to.deep.equal(Array.from({ length: seqs.length }, (_, i) => i + 1));
      }
    } finally {
      await store.close();
    }
  });
});
