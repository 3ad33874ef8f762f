/**
 * The cost of one message, the figure every change to the message path is judged by (#19): drives
 * messages at a fixed open-loop rate through the whole path (send frame → event log → worker →
 * store → chat.events → fan-out → every member's socket) and prints, per process, CPU µs per
 * delivered message and event-loop delay p99; in embedded mode also SQLite statements and commits
 * per message; on the real stack also the shared servers' CPU per message.
 *   node --import tsx scripts/bench/cost.ts [--stack embedded|real|both] [--rate 1000]
 *     [--duration 20] [--warmup 10] [--pairs 32] [--tracing off,ratio0]
 * Before the measured window the same rate runs for --warmup seconds, not counted: fresh server
 * processes spend their first seconds compiling (V8's optimising compiler on background threads)
 * and filling caches, which is not the cost of a message in steady state.
 * `--tracing ratio0` loads the OpenTelemetry SDK with sampling 0 (exporting to a sink in this
 * process); with several modes, each stack runs them in turn and the summary gives the CPU ratio
 * (name modes again, `off,ratio0,off,ratio0`, to interleave runs and compare medians).
 * The real stack needs scripts/stack/up.sh and `eval "$(bash scripts/stack/env.sh)"`.
 * Profile with BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (README, "Benchmarks").
 * BENCH_DUMP=file.json writes each delivered message's [send time (epoch ms), e2e ms], to line
 * the slow ones up with GC pauses or event-loop stalls logged by a preload in the server.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type WebSocket from 'ws';
import { loadNote, metric, percentile, scrape, syscalls, table } from './lib.ts';
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
  type Stack,
} from './path.ts';

const { values } = parseArgs({
  options: {
    stack: { type: 'string', default: 'embedded' },
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '10' },
    pairs: { type: 'string', default: '32' },
    tracing: { type: 'string', default: 'off' },
  },
});
const modes = values.tracing!.split(',');
for (const m of modes)
  if (!['off', 'ratio0', 'ratio1'].includes(m)) throw new Error(`--tracing: unknown mode ${m}`);
/** An OTLP/HTTP endpoint that accepts trace exports (a collector's cost is not ours). */
const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const tracingEnv = (mode: string): Record<string, string> =>
  mode === 'off'
    ? {}
    : {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`,
        OTEL_TRACES_SAMPLER_ARG: mode === 'ratio0' ? '0' : '1',
      };
const stacks: Stack[] =
  values.stack === 'both' ? ['embedded', 'real'] : [values.stack === 'real' ? 'real' : 'embedded'];
if (!['embedded', 'real', 'both'].includes(values.stack!))
  throw new Error('--stack is embedded, real or both');
const rate = Number(values.rate);
const durationMs = Number(values.duration) * 1000;
const warmupMs = Number(values.warmup) * 1000;
const pairs = Number(values.pairs);
const command = `node --import tsx scripts/bench/cost.ts ${process.argv.slice(2).join(' ')}`.trim();
console.log(`${command}\n${new Date().toISOString()}, ${loadNote()}`);

/** A counter's per-message rate by the given labels, the largest first ("none" when nothing). */
function perMessage(
  before: Map<string, number>,
  after: Map<string, number>,
  name: string,
  labels: readonly string[],
  messages: number,
): string {
  const parts: [string, number][] = [];
  for (const [k, v] of after) {
    if (!k.startsWith(`${name}{`)) continue;
    const label = (l: string) => new RegExp(`[{,]${l}="([^"]*)"`).exec(k)?.[1] ?? '';
    const n = (v - (before.get(k) ?? 0)) / messages;
    if (n >= 0.01) parts.push([labels.map(label).join(' ').trim(), n]);
  }
  parts.sort((a, b) => b[1] - a[1]);
  return parts.map(([k, n]) => `${k} ${n.toFixed(2)}`).join(', ') || 'none';
}

/** A process's read and write syscalls a message over the window ('-' where /proc has none). */
function perMessageIo(
  a: { reads: number; writes: number } | undefined,
  b: { reads: number; writes: number } | undefined,
  messages: number,
): string {
  if (!a || !b || !messages || Number.isNaN(a.reads) || Number.isNaN(b.reads)) return '-';
  return `${((b.reads - a.reads) / messages).toFixed(2)} / ${((b.writes - a.writes) / messages).toFixed(2)}`;
}

const us = (cpuSeconds: number, messages: number) => (messages ? (cpuSeconds * 1e6) / messages : NaN);

async function measure(stack: Stack, mode: string): Promise<{ report: string; parleyUs: number }> {
  const topo = await topology(stack, tracingEnv(mode));
  const sockets: WebSocket[] = [];
  try {
    const ps: Pair[] = await connectPairs(topo, stack, pairs, sockets);
    await warmUp(topo, ps);
    if (warmupMs > 0) await settled((await run(`w${stack}`, rate, warmupMs, ps)).keys, 10_000);
    await sleep(1000);
    const roles = [...topo.metrics.keys()];
    // A scrape resets prom-client's event-loop delay histogram: the second one covers the run.
    const before = await Promise.all(roles.map((r) => scrape(topo.metrics.get(r)!)));
    const io = () => new Map([...topo.pids].map(([pid, role]) => [role, syscalls(pid)]));
    const cpu0 = cpuSnapshot(stack, topo.pids);
    const io0 = io();
    const { keys, seconds } = await run(`c${stack}`, rate, durationMs, ps);
    await settled(keys, 10_000);
    const cpu1 = cpuSnapshot(stack, topo.pids);
    const io1 = io();
    const after = await Promise.all(roles.map((r) => scrape(topo.metrics.get(r)!)));

    const rs = keys.map((k) => recs.get(k)!);
    const e2e = rs.filter((r) => r.recvAt !== undefined).map((r) => r.recvAt! - r.sentAt);
    if (process.env.BENCH_DUMP)
      writeFileSync(
        process.env.BENCH_DUMP,
        JSON.stringify(
          rs.filter((r) => r.recvAt !== undefined).map((r) => [r.sentWall, r.recvAt! - r.sentAt]),
        ),
      );
    e2e.sort((a, b) => a - b);
    const delivered = e2e.length;
    const lost = rs.filter((r) => r.ackAt !== undefined && r.recvAt === undefined).length;
    const errors = rs.filter((r) => r.error).length;
    const rows: Record<string, string | number>[] = [];
    const breakdown: string[] = [];
    let parley = 0;
    let shared = 0;
    for (const name of Object.keys(cpu1)) {
      const cpu = cpu1[name]! - cpu0[name]!;
      const i = roles.indexOf(name);
      const delta = (m: string) => (i < 0 ? NaN : (metric(after[i]!, m) || 0) - (metric(before[i]!, m) || 0));
      const row: Record<string, string | number> = {
        process: name,
        'CPU s': cpu,
        'CPU µs/msg': us(cpu, delivered),
        'event-loop p99 ms': i < 0 ? '-' : metric(after[i]!, 'nodejs_eventloop_lag_p99_seconds') * 1000,
        'syscalls/msg read / write': perMessageIo(io0.get(name), io1.get(name), delivered),
      };
      if (stack === 'embedded') {
        row['SQLite statements/msg'] = i < 0 ? '-' : delta('parley_sqlite_statements_total') / delivered;
        row['SQLite commits/msg'] = i < 0 ? '-' : delta('parley_sqlite_commits_total') / delivered;
        if (i >= 0) {
          const n = delta('parley_sqlite_wal_catchups_total');
          const ms = delta('parley_sqlite_wal_catchup_seconds_total') * 1000;
          breakdown.push(
            `${name}: WAL ${metric(after[i]!, 'parley_sqlite_wal_frames')} frames at the end; ` +
              `the writer's catch-ups ${n}, ${n ? (ms / n).toFixed(1) : 0} ms each on average`,
          );
        }
      } else {
        row['Kafka requests/msg'] = i < 0 ? '-' : delta('parley_kafka_requests_total') / delivered;
        row['Mongo commands/msg'] = i < 0 ? '-' : delta('parley_mongo_commands_total') / delivered;
        if (i >= 0)
          breakdown.push(
            `${name}: Kafka ${perMessage(before[i]!, after[i]!, 'parley_kafka_requests_total', ['api'], delivered)}; ` +
              `Mongo ${perMessage(before[i]!, after[i]!, 'parley_mongo_commands_total', ['command', 'collection'], delivered)}`,
          );
      }
      rows.push(row);
      if (i >= 0) parley += cpu;
      else if (name.endsWith('(shared)')) shared += cpu;
    }
    const summary =
      `${stack}${mode === 'off' ? '' : ` (tracing ${mode})`}: ${rate} msg/s offered for ${durationMs / 1000} s (sent ${(keys.length / seconds).toFixed(0)}/s), ` +
      `${delivered}/${keys.length} delivered, lost ${lost}, errors ${errors}, ` +
      `e2e p50 ${percentile(e2e, 50).toFixed(1)} ms p99 ${percentile(e2e, 99).toFixed(1)} ms; ` +
      `Parley's processes ${us(parley, delivered).toFixed(0)} µs CPU/msg` +
      (stack === 'real' ? `, stack servers ${us(shared, delivered).toFixed(0)} µs CPU/msg (shared)` : '') +
      ` (target ≤ 300 µs)`;
    console.log(summary);
    const detail = breakdown.length
      ? `\n\n${stack === 'embedded' ? 'Write-ahead log' : 'Requests per message'}:\n${breakdown.join('\n')}`
      : '';
    return { report: `${summary}\n\n${table(rows)}${detail}`, parleyUs: us(parley, delivered) };
  } finally {
    for (const s of sockets) s.terminate();
    await topo.stop();
  }
}

const reports: string[] = [];
const ratios: string[] = [];
for (const stack of stacks) {
  // A mode named several times (off,ratio0,off,ratio0) runs interleaved; its median is compared.
  const byMode = new Map<string, number[]>();
  for (const mode of modes) {
    const r = await measure(stack, mode);
    reports.push(r.report);
    byMode.set(mode, [...(byMode.get(mode) ?? []), r.parleyUs]);
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const runs = byMode.get('off');
  if (runs)
    for (const [mode, vs] of byMode)
      if (mode !== 'off')
        ratios.push(
          `${stack}: tracing ${mode} costs ${((median(vs) / median(runs) - 1) * 100).toFixed(1)}% more CPU per message than off ` +
            `(medians of ${vs.length} and ${runs.length} runs: ${vs.map((v) => v.toFixed(0)).join('/')} against ${runs.map((v) => v.toFixed(0)).join('/')} µs)`,
        );
}
sink.close();
console.log(`\n${command}\n${new Date().toISOString()}, ${loadNote()}\n`);
console.log(reports.join('\n\n'));
if (ratios.length) console.log(`\n${ratios.join('\n')}`);
