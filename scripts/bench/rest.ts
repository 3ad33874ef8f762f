/**
 * REST overhead of the HTTP layer (#18), in embedded mode: autocannon against a light route
 * (GET /healthz: the framework alone), an authenticated read (GET /v1/users/me) and the send
 * route (POST /v1/conversations/{id}/messages, 202 once the event log has it), with the server's
 * CPU per request beside req/s and latency. Pass several checkouts to compare them in one run,
 * each measured in turn on the same machine, e.g. the tree before and after a change:
 *
 *   node --import tsx scripts/bench/rest.ts                                  # this checkout
 *   node --import tsx scripts/bench/rest.ts --trees /work/wt-before,.        # side by side
 *   node --import tsx scripts/bench/rest.ts --seconds 10 --connections 20 --rounds 3
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds, embeddedEnv, freePort, loadNote, table } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    trees: { type: 'string', default: '.' },
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
  },
});
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const ROUNDS = Number(args.rounds);

interface Server {
  url: string;
  proc: ChildProcess;
  dir: string;
}

/** Starts the embedded server of a checkout and waits until it registers users. */
async function start(tree: string): Promise<Server> {
  const [port, managementPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'parley-rest-'));
  const proc = spawn(process.execPath, ['--import', 'tsx', 'services/standalone/src/main.ts'], {
    cwd: tree,
    env: {
      ...embeddedEnv(port, managementPort, dir),
      RATE_LIMIT_PER_MINUTE: '1000000',
      SEND_RATE_PER_MINUTE: '1000000',
      RATE_LIMIT_REGISTER_PER_15MIN: '100000',
      WS_USER_SENDS_PER_MINUTE: '1000000', // trees from before #18
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  // Ready when a registration goes through (works whichever port serves /readyz in that tree).
  for (;;) {
    const r = await fetch(`${url}/v1/openapi.json`).catch(() => undefined);
    if (r?.status === 200) break;
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`${tree}: server did not start`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, proc, dir };
}

async function post(url: string, path: string, token: string | undefined, body: unknown) {
  for (let i = 0; ; i++) {
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (res.status < 300) return (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    // 503 while the dependencies connect.
    if (res.status !== 503 || i > 100) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Row {
  tree: string;
  route: string;
  reqPerSec: number;
  p50: number;
  p99: number;
  cpuMsPerReq: number;
  non2xx: number;
}

async function measure(tree: string, s: Server, round: number): Promise<Row[]> {
  const tag = Math.random().toString(36).slice(2, 8);
  const alice = await post(s.url, '/v1/auth/register', undefined, {
    username: `rest_${tag}_a`,
    password: 'correct horse battery',
  });
  await post(s.url, '/v1/auth/register', undefined, {
    username: `rest_${tag}_b`,
    password: 'correct horse battery',
  });
  const token = alice.tokens.accessToken as string;
  const conv = await post(s.url, '/v1/conversations', token, { type: 'direct', members: [`rest_${tag}_b`] });
  let n = 0;
  const routes: [string, autocannon.Options][] = [
    ['GET /healthz', { url: `${s.url}/healthz` }],
    ['GET /v1/users/me', { url: `${s.url}/v1/users/me`, headers: { authorization: `Bearer ${token}` } }],
    [
      'POST …/messages (202)',
      {
        url: `${s.url}/v1/conversations/${conv.id}/messages`,
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        // A new clientMsgId per request: every one is a real send.
        requests: [
          {
            setupRequest: (req) => ({
              ...req,
              body: JSON.stringify({ clientMsgId: `r${round}-${n++}`, body: 'hello over REST' }),
            }),
          },
        ],
      },
    ],
  ];
  const rows: Row[] = [];
  for (const [route, opts] of routes) {
    const cpu0 = cpuSeconds(s.proc.pid!);
    const r = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...opts });
    const cpu = cpuSeconds(s.proc.pid!) - cpu0;
    rows.push({
      tree,
      route,
      reqPerSec: Math.round(r.requests.average),
      p50: r.latency.p50,
      p99: r.latency.p99,
      cpuMsPerReq: r.requests.total ? (cpu * 1000) / r.requests.total : NaN,
      non2xx: r.non2xx,
    });
  }
  return rows;
}

const trees = args.trees.split(',').map((t) => resolve(t));
console.log(
  `REST overhead, embedded mode: ${CONNECTIONS} connections, ${SECONDS} s per route, ${ROUNDS} rounds; ${loadNote()}`,
);
const all: Row[] = [];
for (let round = 0; round < ROUNDS; round++)
  for (const tree of trees) {
    const s = await start(tree);
    try {
      all.push(...(await measure(tree, s, round)));
    } finally {
      s.proc.kill('SIGTERM');
      await new Promise((r) => s.proc.once('exit', r));
      rmSync(s.dir, { recursive: true, force: true });
    }
  }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const out: Record<string, string | number>[] = [];
for (const tree of trees)
  for (const route of [...new Set(all.map((r) => r.route))]) {
    const rs = all.filter((r) => r.tree === tree && r.route === route);
    out.push({
      tree,
      route,
      'req/s (median)': median(rs.map((r) => r.reqPerSec)),
      'p50 ms': median(rs.map((r) => r.p50)),
      'p99 ms': median(rs.map((r) => r.p99)),
      'server CPU ms/req': median(rs.map((r) => r.cpuMsPerReq)).toFixed(3),
      'non-2xx': rs.reduce((a, r) => a + r.non2xx, 0),
    });
  }
console.log(table(out));
console.log(`done; ${loadNote()}`);
