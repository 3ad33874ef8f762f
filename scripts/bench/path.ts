/**
 * The whole message path for the end-to-end benchmarks (e2e.ts, cost.ts): the processes of a stack
 * (embedded: one standalone process; real: two `ROLE=api` gateways, a `ROLE=worker` and the auth
 * service in the bench process, on the local real stack), senders' and recipients' sockets, an
 * open-loop sender, and per-message timings keyed by clientMsgId.
 */
import { readdirSync, readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { cpuSeconds, metric, scrape, startServer } from './lib.ts';
import {
  createConversation,
  realStackEnv,
  registerUsers,
  startAuth,
  startMessage,
  type BenchUser,
} from './services.ts';

export type Stack = 'embedded' | 'real';

export const SERVER_ENV = {
  RATE_LIMIT_PER_MINUTE: '1000000',
  SEND_RATE_PER_MINUTE: '1000000',
  // The per-user burst too: a bench user sends up to 60 a second, in bursts after a GC pause.
  SEND_BURST: '100000',
  RATE_LIMIT_REGISTER_PER_15MIN: '100000',
  ACCESS_TOKEN_TTL_SECONDS: '7200',
  WS_FRAMES_PER_SECOND: '10000',
  WS_FRAME_BURST: '100000',
  WS_MAX_CONNECTIONS_PER_USER: '100',
  PERSIST_WAIT_MS: '30000',
};

// ---- processes -------------------------------------------------------------------------------
export interface Topology {
  gatewayA: string;
  gatewayAMetrics: string;
  gatewayB: string;
  authUrl: string;
  /** Process id → role, for CPU accounting. */
  pids: Map<number, string>;
  /** Role (as in pids) → its /metrics URL. */
  metrics: Map<string, string>;
  workerMetrics: string;
  gatewayBMetrics: string;
  stop: () => Promise<void>;
}

export async function topology(stack: Stack, extraEnv: Record<string, string> = {}): Promise<Topology> {
  if (stack === 'embedded') {
    const s = await startServer({ ...SERVER_ENV, ...extraEnv });
    return {
      gatewayA: s.url,
      gatewayAMetrics: `${s.managementUrl}/metrics`,
      gatewayB: s.url,
      authUrl: s.url,
      pids: new Map([[s.proc.pid!, 'standalone (all roles)']]),
      metrics: new Map([['standalone (all roles)', `${s.managementUrl}/metrics`]]),
      workerMetrics: `${s.managementUrl}/metrics`,
      gatewayBMetrics: `${s.managementUrl}/metrics`,
      stop: s.stop,
    };
  }
  const env = realStackEnv('e2e', { ...SERVER_ENV, KAFKA_SESSION_TIMEOUT_MS: '6000', ...extraEnv });
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
    metrics: new Map([
      ['gateway A (senders)', `${a.managementUrl}/metrics`],
      ['gateway B (recipients)', `${b.managementUrl}/metrics`],
      ['worker', `${w.managementUrl}/metrics`],
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

export function cpuSnapshot(stack: Stack, pids: Map<number, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [pid, role] of pids) out[role] = cpuSeconds(pid);
  const self = process.cpuUsage();
  out['bench (clients, auth)'] = (self.user + self.system) / 1e6;
  if (stack === 'real') for (const [k, v] of Object.entries(stackCpu())) out[`${k} (shared)`] = v;
  return out;
}

// ---- sockets ---------------------------------------------------------------------------------
export interface Rec {
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
export const recs = new Map<string, Rec>();

export function connect(
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

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- one rate ----------------------------------------------------------------------------------
export interface Pair {
  conv: string;
  sender: WebSocket;
}

/** Sends `rate` msg/s for `ms`, open loop (late ticks catch up), round-robin over the pairs. */
export async function run(
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
export async function settled(keys: string[], ms: number): Promise<boolean> {
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

/** 2 × pairs users in `pairs` direct conversations: recipients' sockets on gateway B, senders' on A. */
export async function connectPairs(
  topo: Topology,
  stack: Stack,
  pairs: number,
  sockets: WebSocket[],
): Promise<Pair[]> {
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
  return ps;
}

/** Sends at 20 msg/s until messages flow end to end (consumer groups joined, relay subscribed). */
export async function warmUp(topo: Topology, ps: Pair[]): Promise<void> {
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
}
