/**
 * Fan-out to a 1,000-member room, three servers side by side in one run, each fed through the same
 * Redis Cluster and measured by the same client load generator (a separate process):
 *
 *   naive     bare `ws` server, SSUBSCRIBE, and the usual loop: `for (c of clients) c.send(msg)`
 *   parley    the real message service api role (gateway + hub), publishes on its conversation channel
 *   socketio  Socket.IO 4 with @socket.io/redis-adapter, `io.to(room).emit()` from another process
 *
 * Reports deliveries per server CPU-second (server process CPU only) and per wall second.
 *
 *   eval "$(bash scripts/stack/env.sh)"
 *   node --import tsx scripts/bench/fanout.ts [--members 1000] [--messages 300] [--rate 100] [--runs 3]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster } from 'ioredis';
import { WebSocket, WebSocketServer } from 'ws';

const SELF = new URL(import.meta.url).pathname;
const MESSAGE_MAIN = new URL('../../services/message/src/main.ts', import.meta.url).pathname;

const { values: args } = parseArgs({
  options: {
    members: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '300' },
    rate: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
    role: { type: 'string' },
    url: { type: 'string' },
    room: { type: 'string' },
    token: { type: 'string' },
  },
});

const redisNodes = () =>
  (process.env.REDIS_NODES ?? '127.0.0.1:7001')
    .split(',')
    .map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) }));

/** A realistic message.created frame (≈ 400 bytes). */
function frame(conversationId: string, seq: number): string {
  return JSON.stringify({
    type: 'message.created',
    eventId: randomBytes(16).toString('hex'),
    conversationId,
    occurredAt: new Date().toISOString(),
    acceptedAt: Date.now(),
    data: {
      id: randomBytes(16).toString('hex'),
      conversationId,
      seq,
      senderId: '7dd17065-7e69-40d7-8123-6ff40197ef1f',
      clientMsgId: `m-${seq}`,
      body: 'The quick brown fox jumps over the lazy dog. '.repeat(4),
      createdAt: new Date().toISOString(),
      editCount: 0,
    },
  });
}

type Ipc = { cpu?: NodeJS.CpuUsage; received?: number; ready?: boolean; url?: string };
const reply = (m: Ipc) => process.send?.(m);

// ───────────────────────────── child roles ─────────────────────────────

async function serveNaive(): Promise<void> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  const sub = new Cluster(redisNodes(), { shardedSubscribers: true });
  await sub.ssubscribe(args.room!);
  sub.on('smessage', (_ch: string, m: string) => {
    for (const c of wss.clients) c.send(m);
  });
  http.listen(0, '127.0.0.1', () => {
    const a = http.address() as { port: number };
    reply({ ready: true, url: `ws://127.0.0.1:${a.port}` });
  });
  process.on('message', () => reply({ cpu: process.cpuUsage() }));
}

async function serveSocketIo(): Promise<void> {
  const { Server } = await import('socket.io');
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const pub = new Cluster(redisNodes());
  const sub = pub.duplicate();
  const http = createServer();
  const io = new Server(http, {
    adapter: createAdapter(pub, sub),
    transports: ['websocket'],
    perMessageDeflate: false,
  });
  io.on('connection', (s) => void s.join(args.room!));
  http.listen(0, '127.0.0.1', () => {
    const a = http.address() as { port: number };
    reply({ ready: true, url: `http://127.0.0.1:${a.port}` });
  });
  process.on('message', () => reply({ cpu: process.cpuUsage() }));
}

/** Opens the sockets and counts frames; answers its count on any IPC message. */
async function clients(kind: string, n: number): Promise<void> {
  let received = 0;
  const open: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const localAddress = `127.0.0.${2 + (i % 200)}`;
    if (kind === 'socketio') {
      const { io } = await import('socket.io-client');
      const s = io(args.url!, { transports: ['websocket'], forceNew: true, localAddress } as never);
      s.on('msg', () => received++);
      open.push(new Promise((r) => s.once('connect', () => r())));
    } else {
      const protocols = kind === 'parley' ? ['parley.v1', `parley.bearer.${args.token}`] : [];
      const ws = new WebSocket(args.url!, protocols, { localAddress, perMessageDeflate: false });
      ws.on('message', (d) => {
        if (kind !== 'parley' || d.toString('utf8', 0, 30).includes('message.created')) received++;
      });
      open.push(
        new Promise((r) => {
          if (kind === 'parley')
            ws.on('message', function ready(d) {
              if (d.toString('utf8', 0, 20).includes('"ready"')) {
                ws.off('message', ready);
                r();
              }
            });
          else ws.once('open', () => r());
        }),
      );
    }
    if (i % 100 === 99) await Promise.all(open.slice(-100));
  }
  await Promise.all(open);
  reply({ ready: true });
  process.on('message', () => reply({ received }));
}

// ───────────────────────────── orchestration ─────────────────────────────

function ask(child: ChildProcess): Promise<Ipc> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as Ipc));
    child.send({});
  });
}

function waitReady(child: ChildProcess, what: string): Promise<Ipc> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} not ready in 120 s`)), 120_000);
    child.on('message', function on(m: Ipc) {
      if (m.ready) {
        clearTimeout(t);
        child.off('message', on);
        resolve(m);
      }
    });
    child.once('exit', (c) => reject(new Error(`${what} exited ${c}`)));
  });
}

const forkRole = (role: string, extra: string[] = []) =>
  fork(SELF, ['--role', role, ...extra], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });

interface Result {
  kind: string;
  deliveries: number;
  expected: number;
  cpuSec: number;
  wallSec: number;
}

async function drive(
  kind: string,
  members: number,
  messages: number,
  rate: number,
  publish: (i: number) => Promise<void>,
  cpu: () => Promise<number>,
  clientArgs: string[],
): Promise<Result> {
  const gen = forkRole('clients', ['--only', kind, '--members', String(members), ...clientArgs]);
  await waitReady(gen, `${kind} clients`);
  await new Promise((r) => setTimeout(r, 1000)); // let subscriptions and joins settle
  const base = (await ask(gen)).received ?? 0;
  const cpu0 = await cpu();
  const t0 = performance.now();
  for (let i = 0; i < messages; i++) {
    await publish(i);
    const due = t0 + ((i + 1) * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const expected = messages * members;
  const deadline = Date.now() + 60_000;
  let got = 0;
  while (Date.now() < deadline) {
    got = ((await ask(gen)).received ?? 0) - base;
    if (got >= expected) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const wallSec = (performance.now() - t0) / 1000;
  const cpuSec = (await cpu()) - cpu0;
  gen.kill('SIGKILL');
  return { kind, deliveries: got, expected, cpuSec, wallSec };
}

const cpuOf = async (child: ChildProcess) => {
  const c = (await ask(child)).cpu!;
  return (c.user + c.system) / 1e6;
};

async function runNaive(members: number, messages: number, rate: number, pub: Cluster): Promise<Result> {
  const room = `bench-naive-${randomBytes(4).toString('hex')}`;
  const server = forkRole('naive', ['--room', room]);
  const { url } = await waitReady(server, 'naive server');
  try {
    return await drive(
      'naive',
      members,
      messages,
      rate,
      (i) => pub.spublish(room, frame(room, i)).then(() => undefined),
      () => cpuOf(server),
      ['--url', url!],
    );
  } finally {
    server.kill('SIGKILL');
  }
}

async function runSocketIo(members: number, messages: number, rate: number): Promise<Result> {
  const room = `bench-sio-${randomBytes(4).toString('hex')}`;
  const server = forkRole('socketio', ['--room', room]);
  const { url } = await waitReady(server, 'socket.io server');
  const { Server } = await import('socket.io');
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const pub = new Cluster(redisNodes());
  const sub = pub.duplicate();
  // An emitter-only Socket.IO instance: its adapter publishes, the server process fans out.
  const emitter = new Server({ adapter: createAdapter(pub, sub) });
  try {
    const conv = randomBytes(16).toString('hex');
    return await drive(
      'socketio',
      members,
      messages,
      rate,
      async (i) => {
        emitter.to(room).emit('msg', JSON.parse(frame(conv, i)));
      },
      () => cpuOf(server),
      ['--url', url!],
    );
  } finally {
    server.kill('SIGKILL');
    // Not attached to an HTTP server, so there is no engine to close: drop the adapter's clients.
    emitter.removeAllListeners();
    pub.disconnect();
    sub.disconnect();
  }
}

async function runParley(members: number, messages: number, rate: number, pub: Cluster): Promise<Result> {
  const { authModule, authSettings, generateSigningJwk } = await import('@parley/auth');
  const { runService } = await import('@parley/common/service');
  const dir = mkdtempSync(join(tmpdir(), 'parley-fanout-'));
  const tag = randomBytes(3).toString('hex');
  const prefix = `bench-fanout-${tag}:`;
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    MONGO_URL: process.env.MONGO_URL!,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
    REDIS_NODES: process.env.REDIS_NODES!,
    REDIS_KEY_PREFIX: prefix,
    TOPIC_CHAT_MESSAGES: `fanout-${tag}.chat.messages`,
    TOPIC_CHAT_EVENTS: `fanout-${tag}.chat.events`,
    TOPIC_CHAT_DLQ: `fanout-${tag}.chat.messages.dlq`,
    TOPIC_USER_EVENTS: `fanout-${tag}.user.events`,
    CHAT_TOPIC_PARTITIONS: '1',
    FANOUT_GROUP_ID: `fanout-${tag}.message-fanout`,
    RATE_LIMIT_PER_MINUTE: '1000000',
    SEND_RATE_PER_MINUTE: '1000000',
    RATE_LIMIT_REGISTER_PER_15MIN: '100000',
    WS_MAX_CONNECTIONS_PER_USER: String(members + 10),
    WS_MAX_PENDING_AUTH: String(members + 10),
  };
  const auth = await runService({
    name: 'bench-auth',
    spec: authSettings,
    env: {
      ...env,
      PORT: '0',
      MANAGEMENT_PORT: '0',
      LOG_LEVEL: 'silent',
      JWT_SIGNING_KEYS: JSON.stringify([await generateSigningJwk('k')]),
    },
    modules: () => [authModule()],
  });
  await auth.ready;
  let out = '';
  const api = spawn(process.execPath, ['--import', 'tsx', MESSAGE_MAIN], {
    env: {
      ...process.env,
      ...env,
      ROLE: 'api',
      PORT: '0',
      MANAGEMENT_PORT: '0',
      LOG_LEVEL: 'info',
      AUTH_JWKS_URL: `${auth.url}/.well-known/jwks.json`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const [url, managementUrl] = await new Promise<[string, string]>((resolve, reject) => {
      api.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"url":"(http:\/\/[^"]+)","managementUrl":"(http:\/\/[^"]+)"/.exec(out);
        if (m && out.includes('"msg":"ready"')) resolve([m[1]!, m[2]!]);
      });
      api.on('exit', (c) => reject(new Error(`api exited ${c}: ${out.slice(-1500)}`)));
    });
    const post = async (base: string, path: string, token: string | undefined, body: unknown) => {
      const res = await fetch(base + path, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      return (await res.json()) as { id: string; tokens: { accessToken: string } };
    };
    const names = [`fan_${tag}_a`, `fan_${tag}_b`];
    const [a] = await Promise.all(
      names.map((username) =>
        post(auth.url, '/v1/auth/register', undefined, {
          username,
          password: 'a long and unusual passphrase',
        }),
      ),
    );
    const conv = await post(url, '/v1/conversations', a!.tokens.accessToken, {
      type: 'group',
      title: 'room',
      members: [names[1]],
    });
    const cpu = async () => {
      const text = await (await fetch(`${managementUrl}/metrics`)).text();
      return Number(/^process_cpu_seconds_total(?:{[^}]*})? (\S+)$/m.exec(text)?.[1] ?? NaN);
    };
    // Same user on every socket: the hub's work per socket is the same as for distinct members.
    return await drive(
      'parley',
      members,
      messages,
      rate,
      (i) => pub.spublish(`${prefix}fan:c:${conv.id}`, frame(conv.id, i + 1)).then(() => undefined),
      cpu,
      ['--url', url.replace('http', 'ws') + '/v1/ws', '--token', a!.tokens.accessToken],
    );
  } finally {
    api.kill('SIGKILL');
    await auth.stop('bench');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const members = Number(args.members);
  const messages = Number(args.messages);
  const rate = Number(args.rate);
  const runs = Number(args.runs);
  const kinds = (args.only ?? 'naive,parley,socketio').split(',');
  const pub = new Cluster(redisNodes(), { shardedSubscribers: false });
  const results = new Map<string, Result[]>();
  for (let r = 0; r < runs; r++)
    for (const k of kinds) {
      const res =
        k === 'naive'
          ? await runNaive(members, messages, rate, pub)
          : k === 'parley'
            ? await runParley(members, messages, rate, pub)
            : await runSocketIo(members, messages, rate);
      console.log(
        `run ${r + 1} ${k}: ${res.deliveries}/${res.expected} deliveries, server CPU ${res.cpuSec.toFixed(2)} s, wall ${res.wallSec.toFixed(2)} s`,
      );
      results.set(k, [...(results.get(k) ?? []), res]);
    }
  pub.disconnect();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const perCpu = new Map([...results].map(([k, rs]) => [k, median(rs.map((x) => x.deliveries / x.cpuSec))]));
  console.log(
    `\nfan-out: ${members} sockets in one room, ${messages} messages at ${rate}/s, median of ${runs} (node ${process.version})`,
  );
  console.log(
    '| server | deliveries | lost | server CPU s | deliveries per server CPU-second | vs naive ws | vs Socket.IO |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const [k, rs] of results) {
    const mid = rs.find((x) => x.deliveries / x.cpuSec === perCpu.get(k)) ?? rs[0]!;
    const v = perCpu.get(k)!;
    const ratio = (peer: string) => (perCpu.has(peer) ? `${(v / perCpu.get(peer)!).toFixed(2)}×` : '–');
    console.log(
      `| ${k} | ${mid.deliveries} | ${mid.expected - mid.deliveries} | ${mid.cpuSec.toFixed(2)} | ${Math.round(v)} | ${ratio('naive')} | ${ratio('socketio')} |`,
    );
  }
}

if (args.role === 'naive') await serveNaive();
else if (args.role === 'socketio') await serveSocketIo();
else if (args.role === 'clients') await clients(args.only!, Number(args.members));
else {
  await main();
  process.exit(0);
}
