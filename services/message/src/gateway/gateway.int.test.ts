import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authModule, authSettings, generateSigningJwk } from '@parley/auth';
import { requireEnv, TestSocket, type Frame } from '@parley/common/testing';
import { waitFor, type Infer, type Running } from '@parley/common';
import { runService } from '@parley/common/service';

const MAIN = new URL('../main.ts', import.meta.url).pathname;

interface Proc {
  child: ChildProcess;
  url: Promise<string>;
  log: () => string;
}

/**
 * Two gateway processes, a worker and the auth service on the real local stack (Kafka, FerretDB,
 * Redis Cluster): cross-pod delivery through sharded pub/sub, and resume on the surviving pod after
 * the other one is SIGKILLed.
 */
describe('gateway across two processes (real stack)', function () {
  this.timeout(180_000);
  let auth: Running;
  let dir: string;
  let env: Record<string, string>;
  const procs: Proc[] = [];
  const sockets: TestSocket[] = [];

  const start = (role: 'api' | 'worker'): Proc => {
    let out = '';
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, ...env, ROLE: role, PORT: '0', MANAGEMENT_PORT: '0', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const url = new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
        if (m && out.includes('"msg":"ready"')) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`${role} exited ${code}: ${out.slice(-2000)}`)));
    });
    url.catch(() => undefined);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const p = { child, url, log: () => out };
    procs.push(p);
    return p;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-gw2-'));
    const tag = randomBytes(3).toString('hex');
    env = {
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      MONGO_URL: requireEnv('MONGO_URL'),
      KAFKA_BROKERS: requireEnv('KAFKA_BROKERS'),
      REDIS_NODES: requireEnv('REDIS_NODES'),
      REDIS_KEY_PREFIX: `parley-gw2-${tag}:`,
      TOPIC_CHAT_MESSAGES: `gw2-${tag}.chat.messages`,
      TOPIC_CHAT_EVENTS: `gw2-${tag}.chat.events`,
      TOPIC_CHAT_DLQ: `gw2-${tag}.chat.messages.dlq`,
      TOPIC_USER_EVENTS: `gw2-${tag}.user.events`,
      CHAT_TOPIC_PARTITIONS: '4',
      WORKER_GROUP_ID: `gw2-${tag}.message-worker`,
      FANOUT_GROUP_ID: `gw2-${tag}.message-fanout`,
      RATE_LIMIT_PER_MINUTE: '1000000',
      SEND_RATE_PER_MINUTE: '1000000',
      RATE_LIMIT_REGISTER_PER_15MIN: '100000',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
    };
    const spec = authSettings;
    auth = await runService({
      name: 'parley-auth',
      spec,
      env: {
        ...env,
        PORT: '0',
        MANAGEMENT_PORT: '0',
        LOG_LEVEL: 'silent',
        JWT_SIGNING_KEYS: JSON.stringify([await generateSigningJwk('k')]),
      },
      modules: () => [authModule<Infer<typeof spec>>()],
    });
    await auth.ready;
    env.AUTH_JWKS_URL = `${auth.url}/.well-known/jwks.json`;
  });

  after(async () => {
    for (const s of sockets) s.ws.terminate();
    for (const p of procs) p.child.kill('SIGKILL');
    await auth?.stop('test');
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (base: string, path: string, token: string | undefined, body: unknown) => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    expect(res.status, `${path}: ${res.status}`).to.be.lessThan(300);
    return (await res.json()) as Record<string, unknown>;
  };
  const register = async () => {
    const username = `gw_${randomBytes(4).toString('hex')}`;
    const r = (await post(auth.url, '/v1/auth/register', undefined, {
      username,
      password: 'a long and unusual passphrase',
    })) as { tokens: { accessToken: string } };
    return { username, token: r.tokens.accessToken };
  };
  const connect = async (base: string, token: string) => {
    const s = await TestSocket.bearer(base, token);
    sockets.push(s);
    return s;
  };
  const seqsOf = (frames: Frame[], conv: string) =>
    frames
      .filter((f) => f.type === 'message.created' && f.conversationId === conv)
      .map((f) => (f.data as { seq: number }).seq);

  it('delivers across gateways, and resumes on the other gateway after one is killed, with no loss and no duplicate', async () => {
    const [gwA, gwB] = [start('api'), start('api')];
    start('worker');
    const [a, b] = await Promise.all([gwA.url, gwB.url]);
    const alice = await register();
    const bob = await register();
    const conv = (await post(a, '/v1/conversations', alice.token, {
      type: 'group',
      title: 'two pods',
      members: [bob.username],
    })) as { id: string };

    const onA = await connect(a, alice.token);
    const onB = await connect(b, bob.token);
    const send = async (n: number, tag: string) => {
      for (let i = 0; i < n; i++)
        onA.send({
          type: 'send',
          id: `${tag}${i}`,
          conversationId: conv.id,
          clientMsgId: `${tag}-${i}`,
          body: `${tag} ${i}`,
        });
      for (let i = 0; i < n; i++) await onA.next('ack', { id: `${tag}${i}` }, 20_000);
    };

    // A → B through Kafka, the worker, the relay and Redis sharded pub/sub.
    await send(5, 'live');
    await waitFor(() => seqsOf(onB.frames, conv.id).length >= 5, {
      timeoutMs: 30_000,
      what: `5 messages on gateway B (A log: ${gwA.log().slice(-1500)})`,
    });
    expect(seqsOf(onB.frames, conv.id)).to.deep.equal([1, 2, 3, 4, 5]);
    expect(onB.frames.find((f) => f.type === 'message.created')!.data).to.include({ body: 'live 0' });

    // Gateway B dies without a word; messages keep coming while Bob is away.
    gwB.child.kill('SIGKILL');
    await send(7, 'gap');
    const lastSeen = Math.max(...seqsOf(onB.frames, conv.id));
    const onA2 = await connect(a, bob.token);
    onA2.send({ type: 'resume', id: 'res', cursors: { [conv.id]: lastSeen } });
    await send(3, 'after');
    await onA2.next('resumed', { id: 'res' }, 20_000);
    await waitFor(() => seqsOf(onA2.frames, conv.id).length >= 10, {
      timeoutMs: 30_000,
      what: 'gap and live',
    });
    const got = seqsOf(onA2.frames, conv.id);
    expect(new Set(got).size, `duplicates in ${got.join(',')}`).to.equal(got.length);
    expect([...got].sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 10 }, (_, i) => i + 6));
    // The replayed part comes first and in order.
    const replayed = onA2.frames.filter((f) => f.type === 'message.created' && f.replay === true);
    const rs = replayed.map((f) => (f.data as { seq: number }).seq);
    expect(rs).to.deep.equal([...rs].sort((x, y) => x - y));
    expect(rs[0]).to.equal(6);
  });
});
