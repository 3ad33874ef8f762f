/**
 * Idle WebSocket connections one gateway process holds, and what each costs in RSS and heap.
 * DESIGN.md target: at most 8 KB RSS per extra authenticated, subscribed connection, measured up to
 * 15,000 sockets per process. A bare `ws` server (scripts/bench/ws-bare-server.ts) is measured in
 * the same run with the same load generator, so the gateway's cost reads as a ratio of the anchor.
 *   node --import tsx scripts/bench/ws-idle.ts [--connections 15000] [--quick] [--stack embedded|real]
 *     [--users 50] [--clients 2] [--settle 20] [--runs 1]
 * The gateway is one spawned process: embedded mode (services/standalone/src/main.ts) by default;
 * `--stack real` runs a `ROLE=api` message process against the local real stack (the auth service
 * then runs in this process; needs scripts/stack/up.sh and `eval "$(bash scripts/stack/env.sh)"`).
 * The sockets come from separate load-generator processes (ws-clients.ts), spread over source
 * addresses 127.0.0.2-9. Every socket authenticates with a user's token and is subscribed to all
 * of that user's conversations (three each) before the gateway's `ready` frame.
 * Memory is sampled once it is stable (RSS from /proc/<pid>/status, heap from the server's
 * `nodejs_heap_size_used_bytes`); nothing forces a GC, so heap is the lowest value seen while
 * settling. KB per connection is the least-squares slope over the checkpoints (with --runs N, the
 * median of the runs' slopes; each run starts fresh servers and load generators).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { linearFit, loadNote, metric, rssKb, scrape, startServer, table, waitReady } from './lib.ts';
import {
  createConversation,
  realStackEnv,
  registerUsers,
  startAuth,
  startMessage,
  type BenchUser,
} from './services.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '15000' },
    quick: { type: 'boolean', default: false },
    stack: { type: 'string', default: 'embedded' },
    users: { type: 'string', default: '50' },
    clients: { type: 'string' },
    settle: { type: 'string', default: '20' },
    runs: { type: 'string', default: '1' },
  },
});
const N = values.quick ? 2000 : Number(values.connections);
const checkpoints = [
  ...new Set([...(values.quick ? [0, 500, 1000, 1500] : [0, 1000, 5000, 10000]).filter((c) => c < N), N]),
];
const clientProcs = Number(values.clients ?? Math.max(1, Math.ceil(N / 8000)));
const settleMs = Number(values.settle) * 1000;
const stack = values.stack!;
if (stack !== 'embedded' && stack !== 'real') throw new Error('--stack is embedded or real');
const command = `node --import tsx scripts/bench/ws-idle.ts ${process.argv.slice(2).join(' ')}`.trim();
console.log(`${command}\n${new Date().toISOString()}, ${loadNote()}`);

interface Target {
  name: string;
  pid: number;
  wsUrl: string;
  metricsUrl: string;
  stop: () => Promise<void>;
}

const SERVER_ENV = {
  WS_MAX_CONNECTIONS_PER_USER: '10000',
  RATE_LIMIT_PER_MINUTE: '1000000',
  SEND_RATE_PER_MINUTE: '1000000',
  RATE_LIMIT_REGISTER_PER_15MIN: '100000',
  ACCESS_TOKEN_TTL_SECONDS: '7200',
};

async function bareServer(): Promise<Target> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/ws-bare-server.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port));
    proc.once('exit', (code) => reject(new Error(`bare ws server exited ${code}`)));
  });
  await waitReady(`http://127.0.0.1:${port}/metrics`, proc);
  return {
    name: 'bare ws',
    pid: proc.pid!,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    stop: () => stopProc(proc),
  };
}

function stopProc(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
  });
}

/** The gateway with users and conversations in place; returns the users' tokens too. */
async function gateway(): Promise<Target & { users: BenchUser[] }> {
  let base: string;
  let authUrl: string;
  let metricsUrl: string;
  let pid: number;
  const stops: (() => Promise<void>)[] = [];
  if (stack === 'embedded') {
    const s = await startServer(SERVER_ENV);
    base = authUrl = s.url;
    metricsUrl = `${s.managementUrl}/metrics`;
    pid = s.proc.pid!;
    stops.push(s.stop);
  } else {
    const env = realStackEnv('wsidle', SERVER_ENV);
    const auth = await startAuth(env);
    const api = await startMessage('api', env);
    base = api.url;
    metricsUrl = `${api.managementUrl}/metrics`;
    authUrl = auth.url;
    pid = api.proc.pid!;
    stops.push(api.stop, async () => void (await auth.stop('bench')));
  }
  const t0 = performance.now();
  const users = await registerUsers(authUrl, 'idle', Number(values.users));
  const n = users.length;
  // Each user: two direct chats (a ring) and one group of up to 10.
  for (let i = 0; i < n; i++) await createConversation(base, users[i]!, 'direct', [users[(i + 1) % n]!]);
  for (let g = 0; g < n; g += 10)
    await createConversation(base, users[g]!, 'group', users.slice(g + 1, Math.min(n, g + 10)));
  console.log(
    `setup: ${n} users, ${n + Math.ceil(n / 10)} conversations in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return {
    name: `gateway (${stack})`,
    pid,
    wsUrl: base.replace(/^http/, 'ws') + '/v1/ws',
    metricsUrl,
    users,
    stop: async () => {
      for (const s of stops) await s();
    },
  };
}

interface Opened {
  open: number;
  failed: number;
  lost: number;
  errors: Record<string, number>;
  seconds: number;
}

/** Waits at least 5 s and until RSS stops moving (6 samples 0.5 s apart within 0.5 %), or `settleMs` passes. */
async function settle(t: Target): Promise<{ rss: number; heap: number; waited: number; stable: boolean }> {
  const started = Date.now();
  const rss: number[] = [];
  const heap: number[] = [];
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    rss.push(rssKb(t.pid));
    heap.push(metric(await scrape(t.metricsUrl), 'nodejs_heap_size_used_bytes') / 1024);
    const w = rss.slice(-6);
    const stable = rss.length >= 10 && Math.max(...w) - Math.min(...w) <= 0.005 * Math.min(...w);
    if (stable || Date.now() - started > settleMs) {
      const sorted = [...w].sort((a, b) => a - b);
      return {
        rss: sorted[Math.floor(sorted.length / 2)]!,
        heap: Math.min(...heap.slice(-12)),
        waited: (Date.now() - started) / 1000,
        stable,
      };
    }
  }
}

interface Result {
  name: string;
  rows: Record<string, string | number>[];
  xs: number[];
  rss: number[];
  heap: number[];
}

async function measure(t: Target, protocols: string[][]): Promise<Result> {
  const clients = Array.from({ length: clientProcs }, () =>
    fork('scripts/bench/ws-clients.ts', [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' }),
  );
  const result: Result = { name: t.name, rows: [], xs: [], rss: [], heap: [] };
  try {
    let have = 0;
    let prev: { n: number; rss: number } | undefined;
    for (const target of checkpoints) {
      const add = target - have;
      const t0 = performance.now();
      const answers = await Promise.all(
        clients.map(
          (c, i) =>
            new Promise<Opened>((resolve, reject) => {
              const count = Math.floor(add / clients.length) + (i < add % clients.length ? 1 : 0);
              c.once('message', (m: Opened) => resolve(m));
              c.once('exit', (code) => reject(new Error(`load generator exited ${code}`)));
              c.send({ cmd: 'open', url: t.wsUrl, protocols, count, concurrency: 100, sources: 8 });
            }),
        ),
      );
      const openSeconds = (performance.now() - t0) / 1000;
      const open = answers.reduce((a, m) => a + m.open, 0);
      const failed = answers.reduce((a, m) => a + m.failed, 0);
      const lost = answers.reduce((a, m) => a + m.lost, 0);
      const errors: Record<string, number> = {};
      for (const m of answers)
        for (const [k, v] of Object.entries(m.errors)) errors[k] = (errors[k] ?? 0) + v;
      have = target;
      const s = await settle(t);
      result.xs.push(open);
      result.rss.push(s.rss);
      result.heap.push(s.heap);
      result.rows.push({
        server: t.name,
        'open sockets': open,
        'RSS MB': s.rss / 1024,
        'heap MB': s.heap / 1024,
        'ΔRSS KB/socket': prev && open > prev.n ? (s.rss - prev.rss) / (open - prev.n) : '-',
        'sockets/s opened': add > 0 ? add / openSeconds : '-',
        'settled after s': `${s.waited.toFixed(1)}${s.stable ? '' : ' (not stable)'}`,
        'failed/lost': `${failed}/${lost}`,
        load: loadNote()
          .replace(/ on .*/, '')
          .replace('load ', ''),
      });
      console.log(
        `${t.name}: ${open} open (${failed} failed, ${lost} closed by server${Object.keys(errors).length ? ': ' + JSON.stringify(errors) : ''}), RSS ${(s.rss / 1024).toFixed(1)} MB, heap ${(s.heap / 1024).toFixed(1)} MB, ${loadNote()}`,
      );
      prev = { n: open, rss: s.rss };
    }
  } finally {
    for (const c of clients) {
      if (c.connected) c.send({ cmd: 'exit' });
    }
    await Promise.all(
      clients.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))),
    );
  }
  return result;
}

const runs = Number(values.runs);
const results: Result[] = [];
for (let run = 1; run <= runs; run++) {
  const tag = runs > 1 ? ` #${run}` : '';
  const bare = await bareServer();
  try {
    // The bare server ignores the token; the same subprotocol header keeps the handshakes equal.
    results.push(await measure({ ...bare, name: bare.name + tag }, [['parley.v1', 'parley.bearer.x']]));
  } finally {
    await bare.stop();
  }
  const gw = await gateway();
  try {
    results.push(
      await measure(
        { ...gw, name: gw.name + tag },
        gw.users.map((u) => ['parley.v1', `parley.bearer.${u.token}`]),
      ),
    );
  } finally {
    await gw.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fitsOf = (kind: 'bare' | 'gateway') => {
  const rs = results.filter((_, i) => (i % 2 === 0) === (kind === 'bare'));
  const f = rs.map((r) => ({ rss: linearFit(r.xs, r.rss), heap: linearFit(r.xs, r.heap) }));
  return {
    name: kind === 'bare' ? 'bare ws' : `gateway (${stack})`,
    rss: median(f.map((x) => x.rss.slope)),
    heap: median(f.map((x) => x.heap.slope)),
    rssRuns: f.map((x) => x.rss.slope.toFixed(2)).join(' / '),
    heapRuns: f.map((x) => x.heap.slope.toFixed(2)).join(' / '),
    intercept: median(f.map((x) => x.rss.intercept)),
    maxOpen: Math.min(...rs.map((r) => Math.max(...r.xs))),
  };
};
const fits = [fitsOf('bare'), fitsOf('gateway')];
const bare = fits[0]!;
console.log(`\n${command}\n${new Date().toISOString()}, ${loadNote()}\n`);
console.log(table(results.flatMap((r) => r.rows)));
console.log('');
console.log(
  table(
    fits.map((f) => ({
      server: f.name,
      'sockets measured': `0-${f.maxOpen}`,
      [`KB RSS/socket (fit${runs > 1 ? ', median' : ''})`]: f.rss,
      [`KB heap/socket (fit${runs > 1 ? ', median' : ''})`]: f.heap,
      ...(runs > 1 ? { 'RSS per run': f.rssRuns, 'heap per run': f.heapRuns } : {}),
      'RSS × bare': f.rss / bare.rss,
      'heap × bare': f.heap / bare.heap,
      'RSS at 0 MB (fit)': f.intercept / 1024,
      'projected RSS at 50k MB': (f.intercept + f.rss * 50_000) / 1024,
      'target ≤ 8 KB RSS': f.name === 'bare ws' ? '-' : f.rss <= 8 ? 'met' : 'NOT met',
    })),
  ),
);
if (N < 5000)
  console.log(
    `\n${N} sockets move RSS by only ~${Math.round((N * 6) / 1024)} MB, within GC noise: a smoke test; use the default 15,000 for the figure.`,
  );
console.log(
  '\nAnchor (DESIGN.md, bare ws on one of our 2-core machines): 4.0 KB RSS, 2.5 KB heap per extra idle connection.',
);
