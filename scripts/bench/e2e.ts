/**
 * End-to-end latency over the WebSocket gateway: `send` frame → Kafka → worker (stored, seq) →
 * chat.events → fan-out relay → Redis sharded pub/sub → `message.created` on the recipient's
 * socket, at fixed open-loop rates. DESIGN.md target: p99 under 25 ms at 2,000 msg/s on the local
 * real stack on 2 cores.
 *   node --import tsx scripts/bench/e2e.ts [--stack real|embedded] [--rates 100,250,500,1000,2000]
 *     [--duration 10] [--pairs 32] [--drain-max 60]
 * Real stack (default): two `ROLE=api` gateway processes, one `ROLE=worker` process and the auth
 * service in this process, with per-run topics, consumer groups and Redis prefix; needs
 * scripts/stack/up.sh and `eval "$(bash scripts/stack/env.sh)"`. Embedded: one standalone process.
 * 2 × pairs users in `pairs` direct conversations; senders' sockets on gateway A, recipients' on
 * gateway B (cross-pod). Each message is timed in this process from just before `ws.send` to the
 * recipient socket's `message.created` (matched by clientMsgId) and to its `ack`. Lost: acked but
 * not delivered within 10 s of its send. When a rate leaves a backlog that does not drain within
 * --drain-max seconds, higher rates are skipped (they would only measure the queue).
 * Where the time goes: the worker's `parley_worker_store_duration_seconds` and gateway B's
 * `parley_delivery_latency_seconds` (API accept → written to the recipient socket) per step, the
 * frame's own `acceptedAt` (wall clock, same machine), and CPU seconds per process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import {
  cpuSeconds,
  histogramDelta,
  loadNote,
  metric,
  percentile,
  scrape,
  startServer,
  table,
  type HistogramDelta,
} from './lib.ts';
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
    stack: { type: 'string', default: 'real' },
    rates: { type: 'string', default: '100,250,500,1000,2000' },
    duration: { type: 'string', default: '10' },
    pairs: { type: 'string', default: '32' },
    'drain-max': { type: 'string', default: '60' },
  },
});
const stack = values.stack!;
if (stack !== 'embedded' && stack !== 'real') throw new Error('--stack is real or embedded');
const rates = values.rates!.split(',').map(Number);
const durationMs = Number(values.duration) * 1000;
const pairs = Number(values.pairs);
const drainMaxMs = Number(values['drain-max']) * 1000;
const LOSS_MS = 10_000;
const TARGET_P99_MS = 25;
const command = `node --import tsx scripts/bench/e2e.ts ${process.argv.slice(2).join(' ')}`.trim();
console.log(`${command}\n${new Date().toISOString()}, ${loadNote()}`);

const SERVER_ENV = {
  RATE_LIMIT_PER_MINUTE: '1000000',
  SEND_RATE_PER_MINUTE: '1000000',
  RATE_LIMIT_REGISTER_PER_15MIN: '100000',
  ACCESS_TOKEN_TTL_SECONDS: '7200',
  WS_FRAMES_PER_SECOND: '10000',
  WS_FRAME_BURST: '100000',
  WS_MAX_CONNECTIONS_PER_USER: '100',
  PERSIST_WAIT_MS: '30000',
};

// ---- processes -------------------------------------------------------------------------------
interface Topology {
  gatewayA: string;
  gatewayAMetrics: string;
  gatewayB: string;
  authUrl: string;
  /** Process id → role, for CPU accounting. */
  pids: Map<number, string>;
  workerMetrics: string;
  gatewayBMetrics: string;
  stop: () => Promise<void>;
}

async function topology(): Promise<Topology> {
  if (stack === 'embedded') {
    const s = await startServer(SERVER_ENV);
    return {
      gatewayA: s.url,
      gatewayAMetrics: `${s.managementUrl}/metrics`,
      gatewayB: s.url,
      authUrl: s.url,
      pids: new Map([[s.proc.pid!, 'standalone (all roles)']]),
      workerMetrics: `${s.managementUrl}/metrics`,
      gatewayBMetrics: `${s.managementUrl}/metrics`,
      stop: s.stop,
    };
  }
  const env = realStackEnv('e2e', { ...SERVER_ENV, KAFKA_SESSION_TIMEOUT_MS: '6000' });
  const auth = await startAuth(env);
  const [a, b, w] = await Promise.all([
    startMessage('api', env),
    startMessage('api', env),
    startMessage('worker', env),
  ]);
  return {
    gatewayA: a.url,
    gatewayAMetrics: `${a.managementUrl}/metrics`,
    gatewayB: b.url,
    authUrl: auth.url,
    pids: new Map([
      [a.proc.pid!, 'gateway A (senders)'],
      [b.proc.pid!, 'gateway B (recipients)'],
      [w.proc.pid!, 'worker'],
    ]),
    workerMetrics: `${w.managementUrl}/metrics`,
    gatewayBMetrics: `${b.managementUrl}/metrics`,
    stop: async () => {
      await Promise.all([a.stop(), b.stop(), w.stop()]);
      await auth.stop('bench');
    },
  };
}

/** CPU seconds of the shared stack's servers (other users of the stack count too). */
function stackCpu(): Record<string, number> {
  const groups: Record<string, number> = { kafka: 0, ferretdb: 0, postgres: 0, redis: 0 };
  const byComm: Record<string, string> = {
    java: 'kafka',
    'parley-ferretdb': 'ferretdb',
    postgres: 'postgres',
    'redis-server': 'redis',
  };
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const g = byComm[readFileSync(`/proc/${d}/comm`, 'utf8').trim()];
      if (g) groups[g]! += cpuSeconds(Number(d)) || 0;
    } catch {
      /* gone */
    }
  }
  return groups;
}

function cpuSnapshot(pids: Map<number, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [pid, role] of pids) out[role] = cpuSeconds(pid);
  const self = process.cpuUsage();
  out['bench (clients, auth)'] = (self.user + self.system) / 1e6;
  if (stack === 'real') for (const [k, v] of Object.entries(stackCpu())) out[`${k} (shared)`] = v;
  return out;
}

// ---- sockets ---------------------------------------------------------------------------------
interface Rec {
  sentAt: number;
  sentWall: number;
  /** Which sender socket sent it. */
  socket: number;
  ackAt?: number;
  ackWall?: number;
  recvAt?: number;
  acceptedAt?: number;
  recvWall?: number;
  error?: string;
  dups: number;
}
const recs = new Map<string, Rec>();

function connect(
  base: string,
  user: BenchUser,
  onFrame?: (f: Record<string, unknown>) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(
      base.replace(/^http/, 'ws') + '/v1/ws',
      ['parley.v1', `parley.bearer.${user.token}`],
      {
        perMessageDeflate: false,
      },
    );
    ws.on('error', reject);
    ws.once('close', (code, reason) => reject(new Error(`closed ${code} ${reason.toString()}`)));
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      if (f.type === 'ready') resolve(ws);
      onFrame?.(f);
    });
  });
}

function onRecipientFrame(f: Record<string, unknown>): void {
  if (f.type !== 'message.created') return;
  const now = performance.now();
  const data = f.data as { clientMsgId?: string };
  const r = data.clientMsgId ? recs.get(data.clientMsgId) : undefined;
  if (!r) return;
  if (r.recvAt !== undefined) return void r.dups++;
  r.recvAt = now;
  r.recvWall = Date.now();
  if (typeof f.acceptedAt === 'number') r.acceptedAt = f.acceptedAt;
}

function onSenderFrame(f: Record<string, unknown>): void {
  if (f.type === 'ack' && f.for === 'send') {
    const r = recs.get(f.id as string);
    if (r && r.ackAt === undefined) {
      r.ackAt = performance.now();
      r.ackWall = Date.now();
    }
  } else if (f.type === 'error') {
    const r = typeof f.id === 'string' ? recs.get(f.id) : undefined;
    if (r) r.error = String(f.code);
    else console.log(`error frame without id: ${JSON.stringify(f)}`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- one rate ----------------------------------------------------------------------------------
interface Pair {
  conv: string;
  sender: WebSocket;
}

/** Sends `rate` msg/s for `ms`, open loop (late ticks catch up), round-robin over the pairs. */
async function run(
  tag: string,
  rate: number,
  ms: number,
  ps: Pair[],
): Promise<{ keys: string[]; seconds: number }> {
  const total = Math.round((rate * ms) / 1000);
  const keys: string[] = [];
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
    while (sent < due) {
      const key = `${tag}-${sent}`;
      const p = ps[sent % ps.length]!;
      recs.set(key, { sentAt: performance.now(), sentWall: Date.now(), socket: sent % ps.length, dups: 0 });
      p.sender.send(
        JSON.stringify({
          type: 'send',
          id: key,
          conversationId: p.conv,
          clientMsgId: key,
          body: `e2e ${key}`,
        }),
      );
      keys.push(key);
      sent++;
    }
    await sleep(1);
  }
  return { keys, seconds: (performance.now() - t0) / 1000 };
}

/** Waits until every acked key is delivered and every key acked or failed, or `ms` passes. */
async function settled(keys: string[], ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    const open = keys.some((k) => {
      const r = recs.get(k)!;
      return r.error === undefined && (r.ackAt === undefined || r.recvAt === undefined);
    });
    if (!open) return true;
    if (performance.now() > deadline) return false;
    await sleep(100);
  }
}

const le = (ms: number) => (ms === Infinity ? '>last bucket' : `≤${ms}`);
const fmtH = (h: HistogramDelta) =>
  h.count ? `${h.count} obs, mean ${h.meanMs.toFixed(1)}, p50${le(h.p50LeMs)}, p99${le(h.p99LeMs)}` : '-';

// ---- main --------------------------------------------------------------------------------------
const topo = await topology();
const rows: Record<string, string | number>[] = [];
const breakdown: Record<string, string | number>[] = [];
const cpuRows: Record<string, string | number>[] = [];
const sockets: WebSocket[] = [];
try {
  const t0 = performance.now();
  const users = await registerUsers(topo.authUrl, 'e2e', 2 * pairs);
  const ps: Pair[] = [];
  for (let i = 0; i < pairs; i++) {
    const [s, r] = [users[2 * i]!, users[2 * i + 1]!];
    const conv = await createConversation(topo.gatewayA, s, 'direct', [r]);
    // Conversations exist before the sockets open, so each socket subscribes to its chat at auth.
    sockets.push(await connect(topo.gatewayB, r, onRecipientFrame));
    const sender = await connect(topo.gatewayA, s, onSenderFrame);
    sockets.push(sender);
    ps.push({ conv, sender });
  }
  console.log(
    `setup: ${2 * pairs} users, ${pairs} direct conversations, ${2 * pairs} sockets in ${((performance.now() - t0) / 1000).toFixed(1)} s (${stack})`,
  );
  // Warm-up: until messages flow end to end (consumer groups joined, relay subscribed).
  for (let i = 0; ; i++) {
    const w = await run(`warm${i}`, 20, 1000, ps);
    if (await settled(w.keys, 15_000)) break;
    const wr = w.keys.map((k) => recs.get(k)!);
    console.log(
      `warm-up ${i}: ${w.keys.length} sent, ${wr.filter((r) => r.ackAt).length} acked, ${wr.filter((r) => r.recvAt).length} delivered, errors ${
        wr
          .filter((r) => r.error)
          .map((r) => r.error)
          .join(',') || 0
      }; waiting`,
    );
    if (i >= 5) {
      const [wm, am, bm] = await Promise.all([
        scrape(topo.workerMetrics),
        scrape(topo.gatewayAMetrics),
        scrape(topo.gatewayBMetrics),
      ]);
      const m = (s: Map<string, number>, n: string) => metric(s, n);
      throw new Error(
        `warm-up: messages do not get through end to end: worker stored ${m(wm, 'parley_worker_messages_stored_total')}, ` +
          `fan-out relay events A ${m(am, 'parley_fanout_events_total')} B ${m(bm, 'parley_fanout_events_total')}, ` +
          `publishes A ${m(am, 'parley_fanout_publishes_total')} B ${m(bm, 'parley_fanout_publishes_total')}, ` +
          `gateway B frames sent ${m(bm, 'parley_ws_frames_sent_total')}`,
      );
    }
  }
  await sleep(1000);

  for (const rate of rates) {
    const load0 = loadNote();
    const [wm0, gm0] = await Promise.all([scrape(topo.workerMetrics), scrape(topo.gatewayBMetrics)]);
    const cpu0 = cpuSnapshot(topo.pids);
    const { keys, seconds } = await run(`r${rate}`, rate, durationMs, ps);
    const lossWindowOk = await settled(keys, LOSS_MS);
    const cpu1 = cpuSnapshot(topo.pids);
    const [wm1, gm1] = await Promise.all([scrape(topo.workerMetrics), scrape(topo.gatewayBMetrics)]);
    const load1 = loadNote();
    const drained = lossWindowOk || (await settled(keys, drainMaxMs - LOSS_MS));

    const rs = keys.map((k) => recs.get(k)!);
    const e2e = rs.filter((r) => r.recvAt !== undefined).map((r) => r.recvAt! - r.sentAt);
    const ack = rs.filter((r) => r.ackAt !== undefined).map((r) => r.ackAt! - r.sentAt);
    const toAccept = rs.filter((r) => r.acceptedAt !== undefined).map((r) => r.acceptedAt! - r.sentWall);
    const acceptToRecv = rs.filter((r) => r.acceptedAt !== undefined).map((r) => r.recvWall! - r.acceptedAt!);
    const acceptToAck = rs
      .filter((r) => r.acceptedAt !== undefined && r.ackWall !== undefined)
      .map((r) => r.ackWall! - r.acceptedAt!);
    // The gateway handles one socket's frames in order: while a socket's sends queue, the gap
    // between its consecutive acks is the gateway's time per send frame.
    const gaps: number[] = [];
    const bySocket = new Map<number, Rec[]>();
    for (const r of rs)
      if (r.ackAt !== undefined) bySocket.set(r.socket, [...(bySocket.get(r.socket) ?? []), r]);
    for (const list of bySocket.values())
      for (let i = 1; i < list.length; i++)
        if (list[i]!.sentAt < list[i - 1]!.ackAt!) gaps.push(list[i]!.ackAt! - list[i - 1]!.ackAt!);
    const errors: Record<string, number> = {};
    for (const r of rs) if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
    const lost = rs.filter(
      (r) => r.ackAt !== undefined && (r.recvAt === undefined || r.recvAt - r.sentAt > LOSS_MS),
    ).length;
    const never = rs.filter((r) => r.ackAt !== undefined && r.recvAt === undefined).length;
    const dups = rs.reduce((a, r) => a + r.dups, 0);
    for (const a of [e2e, ack, toAccept, acceptToRecv, acceptToAck, gaps]) a.sort((x, y) => x - y);
    const achieved = keys.length / seconds;
    const e2eSpan =
      e2e.length > 0
        ? (Math.max(...rs.filter((r) => r.recvAt).map((r) => r.recvAt!)) - rs[0]!.sentAt) / 1000
        : NaN;
    rows.push({
      'target msg/s': rate,
      'sent msg/s': achieved,
      'delivered msg/s': e2e.length / e2eSpan,
      sent: keys.length,
      acked: ack.length,
      errors: Object.keys(errors).length ? JSON.stringify(errors) : 0,
      'e2e p50 ms': percentile(e2e, 50),
      'e2e p99 ms': percentile(e2e, 99),
      'e2e max ms': e2e.length ? e2e[e2e.length - 1]! : NaN,
      'ack p50 ms': percentile(ack, 50),
      'ack p99 ms': percentile(ack, 99),
      'lost (>10 s)': lost,
      [`undelivered after ${drainMaxMs / 1000} s`]: never,
      dups,
      load: `${load0.replace(/ on .*/, '').replace('load ', '')} → ${load1.replace(/ on .*/, '').replace('load ', '')}`,
    });
    const store = histogramDelta(wm0, wm1, 'parley_worker_store_duration_seconds');
    const deliv = histogramDelta(gm0, gm1, 'parley_delivery_latency_seconds');
    breakdown.push({
      'target msg/s': rate,
      'send → accepted p50/p99 ms': `${percentile(toAccept, 50)} / ${percentile(toAccept, 99)}`,
      'accepted → acked (Kafka produce) p50/p99 ms': `${percentile(acceptToAck, 50)} / ${percentile(acceptToAck, 99)}`,
      'per-socket ack gap while queued p50 ms': gaps.length
        ? `${percentile(gaps, 50).toFixed(1)} (${gaps.length})`
        : '-',
      'accepted → received p50/p99 ms': `${percentile(acceptToRecv, 50)} / ${percentile(acceptToRecv, 99)}`,
      'worker store batch ms (histogram)': fmtH(store),
      'msgs/batch': store.count ? e2e.length / store.count : '-',
      'gateway B accept → written ms (histogram)': fmtH(deliv),
    });
    const cpuRow: Record<string, string | number> = { 'target msg/s': rate };
    for (const k of Object.keys(cpu1)) cpuRow[`${k} CPU s`] = cpu1[k]! - cpu0[k]!;
    cpuRows.push(cpuRow);
    console.log(
      `${rate} msg/s: sent ${achieved.toFixed(0)}/s, delivered ${e2e.length}/${keys.length}, e2e p50 ${percentile(e2e, 50).toFixed(1)} p99 ${percentile(e2e, 99).toFixed(1)} ms, ack p99 ${percentile(ack, 99).toFixed(1)} ms, lost ${lost}, ${load1}`,
    );
    if (!drained) {
      console.log(
        `backlog at ${rate} msg/s did not drain within ${drainMaxMs / 1000} s of the last send; higher rates skipped`,
      );
      break;
    }
    await sleep(2000);
  }
} finally {
  for (const s of sockets) s.terminate();
  await topo.stop();
}

console.log(`\n${command}\n${new Date().toISOString()}, ${loadNote()}`);
console.log(
  `send frame → recipient's message.created, ${pairs} direct conversations, senders on gateway A and recipients on gateway B${stack === 'embedded' ? ' (embedded: one process, A = B)' : ''}, ${durationMs / 1000} s per rate, open loop\n`,
);
console.log(table(rows));
console.log('\nWhere the time goes (per rate; histogram percentiles are bucket upper bounds):\n');
console.log(table(breakdown));
console.log('\nCPU seconds per process over each rate (send window + up to 10 s loss window):\n');
console.log(table(cpuRows));
const ok = rows.filter(
  (r) =>
    (r['e2e p99 ms'] as number) < TARGET_P99_MS &&
    r['lost (>10 s)'] === 0 &&
    r.errors === 0 &&
    (r['sent msg/s'] as number) >= 0.95 * (r['target msg/s'] as number),
);
const kept = rows.filter(
  (r) =>
    r['lost (>10 s)'] === 0 &&
    r.errors === 0 &&
    (r['sent msg/s'] as number) >= 0.95 * (r['target msg/s'] as number),
);
console.log(
  `\nmax sustained rate with e2e p99 < ${TARGET_P99_MS} ms, nothing lost: ${ok.length ? `${Math.max(...ok.map((r) => r['target msg/s'] as number))} msg/s` : 'none of the rates tried'}` +
    `; max rate delivered within 10 s with nothing lost: ${kept.length ? `${Math.max(...kept.map((r) => r['target msg/s'] as number))} msg/s` : 'none of the rates tried'}` +
    ` (DESIGN.md target: p99 < ${TARGET_P99_MS} ms at 2000 msg/s)`,
);
