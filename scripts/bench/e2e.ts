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
import { parseArgs } from 'node:util';
import type WebSocket from 'ws';
import { histogramDelta, loadNote, percentile, scrape, table, type HistogramDelta } from './lib.ts';
import {
  connectPairs,
  cpuSnapshot,
  recs,
  run,
  settled,
  sleep,
  topology,
  warmUp,
  type Pair,
  type Rec,
} from './path.ts';

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

const le = (ms: number) => (ms === Infinity ? '>last bucket' : `≤${ms}`);
const fmtH = (h: HistogramDelta) =>
  h.count ? `${h.count} obs, mean ${h.meanMs.toFixed(1)}, p50${le(h.p50LeMs)}, p99${le(h.p99LeMs)}` : '-';

// ---- main --------------------------------------------------------------------------------------
const topo = await topology(stack);
let ps: Pair[] = [];
const rows: Record<string, string | number>[] = [];
const breakdown: Record<string, string | number>[] = [];
const cpuRows: Record<string, string | number>[] = [];
const sockets: WebSocket[] = [];
try {
  ps = await connectPairs(topo, stack, pairs, sockets);
  await warmUp(topo, ps);
  await sleep(1000);

  for (const rate of rates) {
    const load0 = loadNote();
    const [wm0, gm0] = await Promise.all([scrape(topo.workerMetrics), scrape(topo.gatewayBMetrics)]);
    const cpu0 = cpuSnapshot(stack, topo.pids);
    const { keys, seconds } = await run(`r${rate}`, rate, durationMs, ps);
    const lossWindowOk = await settled(keys, LOSS_MS);
    const cpu1 = cpuSnapshot(stack, topo.pids);
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
        ? // A loop, not Math.max(...): 150,000 arguments overflow the stack (2,500 msg/s for 60 s).
          (rs.reduce((m, r) => Math.max(m, r.recvAt ?? -Infinity), -Infinity) - rs[0]!.sentAt) / 1000
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
