/**
 * Parley's gateway beside Centrifugo v6 (#8, "Peers, side by side"), both started in this run on
 * 127.0.0.1, each measured by the same client load generator (a separate process):
 *
 *   idle     authenticated, subscribed sockets held per GiB: server RSS at two socket counts, the
 *            slope is the cost of one more connection (Parley: heap share from /metrics too)
 *   fan-out  one 1,000-member room; Parley: REST send (so each message is also persisted by the
 *            embedded worker), Centrifugo: server API `publish` to a channel every client is
 *            subscribed to (server-side subscription from the connection JWT's `channels` claim);
 *            deliveries per server CPU-second at a paced rate, and messages/s flat out
 *
 * Parley runs in embedded mode (one process, in-process log and fan-out), Centrifugo with its
 * memory broker: one process each, no Redis or Kafka, so the figures compare the gateways.
 *
 *   bash scripts/peers/centrifugo.sh    # once: builds Centrifugo v6 into ~/.cache/parley
 *   node --import tsx scripts/peers/centrifugo.ts [--idle 1000,5000] [--members 1000] [--messages 200]
 *        [--rate 50] [--runs 1] [--profile]   # --profile: Parley with --cpu-prof, top functions printed
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { cpuSeconds, freePort, loadNote, rssKb, scrape, metric, startServer, table } from '../bench/lib.ts';

const SELF = new URL(import.meta.url).pathname;
const BUILD = new URL('./centrifugo.sh', import.meta.url).pathname;
const { values: args } = parseArgs({
  options: {
    idle: { type: 'string', default: '1000,5000' },
    members: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '200' },
    rate: { type: 'string', default: '50' },
    runs: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
    // child role
    role: { type: 'string' },
    kind: { type: 'string' },
    url: { type: 'string' },
    token: { type: 'string' },
  },
});
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Servers this run started: killed whatever way it ends, so none outlives it. */
const started: ChildProcess[] = [];
process.on('exit', () => {
  for (const p of started) if (p.exitCode === null) p.kill('SIGKILL');
});

/** A realistic chat payload (≈ 300 bytes of JSON), the same for both servers. */
const payload = (i: number) => ({
  id: randomBytes(16).toString('hex'),
  seq: i,
  senderId: '7dd17065-7e69-40d7-8123-6ff40197ef1f',
  clientMsgId: `m-${i}`,
  body: 'The quick brown fox jumps over the lazy dog. '.repeat(4),
  createdAt: new Date().toISOString(),
});

// ───────────────────────────── client load generator (child) ─────────────────────────────

type Ipc = {
  ready?: boolean;
  opened?: number;
  received?: number;
  failed?: number;
  /** How the first socket that failed was closed (code and reason, or the connection error). */
  failure?: string;
  add?: number;
};

/**
 * Holds sockets to one server, opening more on request (`{add: n}`), and counts deliveries.
 * Parley: bearer subprotocol, ready frame. Centrifugo: JSON protocol `connect` command with a JWT,
 * answering its application-level pings (`{}`) as the protocol requires.
 */
async function clients(kind: string, url: string, token: string): Promise<void> {
  let received = 0;
  let opened = 0;
  let failed = 0;
  let failure: string | undefined;
  let addr = 0;
  const count = kind === 'parley' ? '"message.created"' : '"pub"';
  const openOne = () =>
    new Promise<void>((resolve) => {
      const protocols = kind === 'parley' ? ['parley.v1', `parley.bearer.${token}`] : [];
      const ws = new WebSocket(url, protocols, {
        localAddress: `127.0.0.${2 + (addr++ % 200)}`,
        perMessageDeflate: false,
      });
      let ready = false;
      ws.on('message', (d: Buffer) => {
        if (!ready) {
          const s = d.toString();
          if (
            (kind === 'parley' && s.includes('"ready"')) ||
            (kind === 'centrifugo' && s.includes('"connect"'))
          ) {
            ready = true;
            opened++;
            resolve();
          }
          return;
        }
        if (kind === 'centrifugo' && d.length === 2 && d.toString() === '{}') return ws.send('{}');
        // Centrifugo may batch several replies into one frame (newline-delimited): count them all.
        for (let i = d.indexOf(count); i >= 0; i = d.indexOf(count, i + 1)) received++;
      });
      ws.on('open', () => {
        if (kind === 'centrifugo') ws.send(JSON.stringify({ id: 1, connect: { token } }));
      });
      let error: string | undefined;
      ws.on('error', (err) => (error = err.message));
      ws.on('close', (code, reason) => {
        if (!ready) {
          failure ??= error ?? `close ${code} ${reason.toString()}`;
          failed++;
          resolve();
        }
      });
    });
  const add = async (n: number) => {
    for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, openOne));
  };
  process.on('message', (m: Ipc) => {
    if (m.add) void add(m.add).then(() => process.send!({ ready: true, opened, failed, failure }));
    else process.send!({ received, opened, failed, failure });
  });
  process.send!({ ready: true, opened, failed });
}

// ───────────────────────────── orchestration ─────────────────────────────

function ask(child: ChildProcess, m: Ipc = {}): Promise<Ipc> {
  return new Promise((resolve) => {
    child.once('message', (r) => resolve(r as Ipc));
    child.send(m);
  });
}

interface Peer {
  kind: 'parley' | 'centrifugo';
  pid: number;
  wsUrl: string;
  token: string;
  publish: (i: number) => Promise<void>;
  heapBytes?: () => Promise<number>;
  stop: () => Promise<void>;
}

async function startParley(maxSockets: number): Promise<Peer> {
  const server = await startServer({
    LOG_LEVEL: 'error',
    WS_MAX_CONNECTIONS_PER_USER: String(maxSockets + 10),
    WS_MAX_PENDING_AUTH: String(maxSockets + 10),
    RATE_LIMIT_PER_MINUTE: '100000',
    SEND_RATE_PER_MINUTE: '100000',
    RATE_LIMIT_REGISTER_PER_15MIN: '1000',
    ACCESS_TOKEN_TTL_SECONDS: '3600',
  });
  started.push(server.proc);
  const post = async (path: string, token: string | undefined, body: unknown) => {
    const res = await fetch(server.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; tokens: { accessToken: string } };
  };
  const tag = randomBytes(3).toString('hex');
  const [sender, member] = await Promise.all(
    ['s', 'm'].map((n) =>
      post('/v1/auth/register', undefined, {
        username: `peer_${n}_${tag}`,
        password: 'correct horse battery',
      }),
    ),
  );
  const conv = await post('/v1/conversations', sender!.tokens.accessToken, {
    type: 'group',
    title: 'room',
    members: [`peer_m_${tag}`],
  });
  // One member user on every socket: the hub's work per socket is the same as for distinct users.
  return {
    kind: 'parley',
    pid: server.proc.pid!,
    wsUrl: server.url.replace('http', 'ws') + '/v1/ws',
    token: member!.tokens.accessToken,
    publish: async (i) => {
      await post(`/v1/conversations/${conv.id}/messages`, sender!.tokens.accessToken, {
        clientMsgId: `m-${i}-${tag}`,
        body: JSON.stringify(payload(i)),
      });
    },
    heapBytes: async () =>
      metric(await scrape(`${server.managementUrl}/metrics`), 'nodejs_heap_size_used_bytes'),
    stop: server.stop,
  };
}

async function startCentrifugo(): Promise<Peer> {
  const bin = execFileSync('bash', [BUILD], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'parley-centrifugo-'));
  const port = await freePort();
  const secret = randomBytes(32).toString('hex');
  const apiKey = randomBytes(16).toString('hex');
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      http_server: { address: '127.0.0.1', port },
      log: { level: 'error' },
      client: { token: { hmac_secret_key: secret }, allowed_origins: ['*'] },
      http_api: { key: apiKey },
      health: { enabled: true },
      usage_stats: { disabled: true }, // no traffic leaves 127.0.0.1
    }),
  );
  const proc = spawn(bin, ['-c', join(dir, 'config.json')], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if ((await fetch(`${base}/health`).catch(() => undefined))?.ok) break;
    if (i > 300 || proc.exitCode !== null) throw new Error('centrifugo did not start');
    await sleep(100);
  }
  const token = await new SignJWT({ channels: ['room'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('member')
    .setExpirationTime('2h')
    .sign(Buffer.from(secret));
  return {
    kind: 'centrifugo',
    pid: proc.pid!,
    wsUrl: `ws://127.0.0.1:${port}/connection/websocket`,
    token,
    publish: async (i) => {
      const res = await fetch(`${base}/api/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify({ channel: 'room', data: payload(i) }),
      });
      const body = (await res.json()) as { error?: unknown };
      if (!res.ok || body.error) throw new Error(`publish: ${res.status} ${JSON.stringify(body)}`);
    },
    stop: () =>
      new Promise((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

const forkClients = async (p: Peer) => {
  const child = fork(SELF, ['--role', 'clients', '--kind', p.kind, '--url', p.wsUrl, '--token', p.token], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise((r) => child.once('message', r));
  return child;
};

/** Every socket asked for opened, or an error naming how the first that did not was closed. */
function assertOpened(p: Peer, r: Ipc): void {
  if ((r.failed ?? 0) > 0)
    throw new Error(`${p.kind}: ${r.failed} sockets failed to connect (first: ${r.failure})`);
}

/** RSS (and Parley's heap) at each socket count; the slope between the first and last is per socket. */
async function idle(p: Peer, levels: number[]) {
  const gen = await forkClients(p);
  const points: { n: number; rssKb: number; heap: number }[] = [];
  let have = 0;
  for (const n of levels) {
    const r = await ask(gen, { add: n - have });
    have = n;
    assertOpened(p, r);
    await sleep(3000); // let allocation settle (and Parley's GC run) before reading RSS
    points.push({ n, rssKb: rssKb(p.pid), heap: (await p.heapBytes?.()) ?? NaN });
  }
  gen.kill('SIGKILL');
  await sleep(2000);
  const a = points[0]!;
  const b = points[points.length - 1]!;
  const perConnKb = (b.rssKb - a.rssKb) / (b.n - a.n);
  return {
    server: p.kind,
    sockets: levels.join(' → '),
    'RSS MiB': points.map((x) => (x.rssKb / 1024).toFixed(0)).join(' → '),
    'KB RSS / socket': perConnKb,
    'KB heap / socket': (b.heap - a.heap) / 1024 / (b.n - a.n),
    'sockets per GiB': Math.round((1024 * 1024) / perConnKb),
  };
}

/** Paced publishes into a room of `members` sockets, then the same flat out with 8 publishers. */
async function fanout(p: Peer, members: number, messages: number, rate: number) {
  const gen = await forkClients(p);
  const r = await ask(gen, { add: members });
  assertOpened(p, r);
  await sleep(1000);
  const measure = async (label: string, send: () => Promise<void>) => {
    const base = (await ask(gen)).received ?? 0;
    const cpu0 = cpuSeconds(p.pid);
    const t0 = performance.now();
    await send();
    const expected = messages * members;
    let got = 0;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(100)) {
      got = ((await ask(gen)).received ?? 0) - base;
      if (got >= expected) break;
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(p.pid) - cpu0;
    return {
      server: p.kind,
      mode: label,
      deliveries: `${got}/${expected}`,
      'server CPU s': cpu,
      'deliveries / CPU s': got / cpu,
      'deliveries / s': got / wall,
      'messages / s': got / members / wall,
    };
  };
  let next = 0;
  const paced = await measure(`paced ${rate}/s`, async () => {
    const t0 = performance.now();
    for (let i = 0; i < messages; i++) {
      await p.publish(next++);
      const wait = t0 + ((i + 1) * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
    }
  });
  const flat = await measure('flat out, 8 publishers', async () => {
    let i = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (i < messages) {
          i++;
          await p.publish(next++);
        }
      }),
    );
  });
  gen.kill('SIGKILL');
  return [paced, flat];
}

/** Top self-time functions of the newest .cpuprofile in `dir`. */
function topFunctions(dir: string, n = 15): Record<string, string | number>[] {
  // tsx runs its loader in a worker thread with its own profile: the main thread's is the largest.
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort((a, b) => statSync(join(dir, a)).size - statSync(join(dir, b)).size)
    .pop();
  if (!file) return [];
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  prof.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^.*\/work\/main\//, '')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, us]) => ({ 'self %': (us / total) * 100, 'self ms': us / 1000, function: fn }));
}

async function main(): Promise<void> {
  const levels = args.idle!.split(',').map(Number);
  const members = Number(args.members);
  const messages = Number(args.messages);
  const rate = Number(args.rate);
  const profDir = mkdtempSync(join(tmpdir(), 'parley-prof-'));
  if (args.profile) process.env.BENCH_SERVER_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${profDir}`;
  console.log(`peers: Parley (embedded) beside Centrifugo v6 (memory broker); ${loadNote()} at start`);
  const idleRows: Record<string, string | number>[] = [];
  const fanRows: Record<string, string | number>[] = [];
  for (let run = 0; run < Number(args.runs); run++) {
    // Both servers up for the whole run; measured one after the other with the same generator.
    const peers = [await startParley(Math.max(...levels, members)), await startCentrifugo()];
    try {
      for (const p of peers) {
        idleRows.push({ run: run + 1, ...(await idle(p, levels)), load: loadNote() });
        for (const row of await fanout(p, members, messages, rate)) fanRows.push({ run: run + 1, ...row });
      }
    } finally {
      for (const p of peers) await p.stop();
    }
  }
  console.log(`\nidle: authenticated sockets in one subscribed room, node ${process.version}`);
  console.log(table(idleRows));
  console.log(`\nfan-out: ${members} sockets in one room, ${messages} messages per mode`);
  console.log(table(fanRows));
  const ratio = (
    rows: Record<string, string | number>[],
    col: string,
    filter = (_r: Record<string, string | number>) => true,
  ) => {
    const v = (k: string) => {
      const xs = rows.filter((r) => r.server === k && filter(r)).map((r) => Number(r[col]));
      return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    };
    return v('parley') / v('centrifugo');
  };
  console.log(
    `\nParley / Centrifugo (median over runs): sockets per GiB ${ratio(idleRows, 'sockets per GiB').toFixed(2)}×; ` +
      `deliveries per CPU s (paced) ${ratio(fanRows, 'deliveries / CPU s', (r) => String(r.mode).startsWith('paced')).toFixed(2)}×; ` +
      `messages/s flat out ${ratio(fanRows, 'messages / s', (r) => String(r.mode).startsWith('flat')).toFixed(2)}×; ${loadNote()} at end`,
  );
  if (args.profile) {
    console.log(`\nParley CPU profile (whole run, self time), ${profDir}:`);
    console.log(table(topFunctions(profDir)));
  }
}

if (args.role === 'clients') void clients(args.kind!, args.url!, args.token!);
else if (args.role === 'profile') console.log(table(topFunctions(args.url!, 25)));
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
