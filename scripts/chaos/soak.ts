/**
 * Soak: N minutes of moderate chat traffic through the SDK over two gateways and two workers on the
 * real local stack, with sessions closing and reopening all the time (resume from their cursors).
 * Reports each process's RSS, heap, event-loop lag p99 and open fds at the start and the end (from
 * /metrics), ack and end-to-end p99 per minute, and flags growth.
 *
 *   bash scripts/stack/up.sh && eval "$(bash scripts/stack/env.sh)"
 *   node --import tsx scripts/chaos/soak.ts [--minutes 30] [--rate 10] [--churn 2] [--users 40]
 */
import { Fleet, sleep, until } from './fleet.ts';
import { stack } from './stack.ts';
import { fmt, markdownTable, percentile } from './table.ts';
import { Balancer, prng, Traffic, type TrafficOptions } from './traffic.ts';

export interface SoakOptions extends TrafficOptions {
  minutes: number;
  /** Sessions closed and reopened per second. */
  churn: number;
  log?: (line: string) => void;
}

export const defaultSoak: SoakOptions = {
  minutes: 30,
  rate: 10,
  churn: 2,
  users: 40,
  conversations: 24,
  membersPerConversation: 5,
};

/** The process metrics the soak compares. */
const series = {
  rssMB: ['process_resident_memory_bytes', 1 / 2 ** 20],
  heapMB: ['nodejs_heap_size_used_bytes', 1 / 2 ** 20],
  lagP99ms: ['nodejs_eventloop_lag_p99_seconds', 1000],
  fds: ['process_open_fds', 1],
  handles: ['nodejs_active_handles_total', 1],
} as const;
type Sample = Record<keyof typeof series, number>;

/** First sample of `name` (any labels) in Prometheus text. */
export function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function sample(fleet: Fleet, name: string): Promise<Sample> {
  const text = await fleet.metrics(name);
  const out = {} as Sample;
  for (const [k, [metric, scale]] of Object.entries(series))
    out[k as keyof Sample] = metricValue(text, metric) * scale;
  return out;
}

export interface SoakResult {
  table: string;
  flags: string[];
  pass: boolean;
}

export async function runSoak(partial: Partial<SoakOptions> = {}): Promise<SoakResult> {
  const o = { ...defaultSoak, ...partial };
  const log = o.log ?? ((l: string) => process.stderr.write(`[soak] ${l}\n`));
  const flags: string[] = [];
  const tables: string[] = [];
  let fleet: Fleet | undefined;
  let lb: Balancer | undefined;
  let traffic: Traffic | undefined;
  await stack.heal();
  try {
    fleet = new Fleet();
    const f = fleet;
    log(`starting auth, 2 gateways, 2 workers (tag ${f.tag})`);
    await f.startParley();
    lb = new Balancer(
      () => f.names('api').map((n) => f.url(n)),
      (g) => f.readyUrl(g),
    );
    lb.start();
    const t = (traffic = new Traffic(o, f.url('auth'), lb));
    await t.setup();
    log(
      `${o.users} users, ${o.conversations} conversations; ${o.rate} sends/s, ${o.churn} reopens/s, ${o.minutes} min`,
    );
    t.start();
    const random = prng(7);
    const churn = setInterval(
      () => void t.reopen(Math.floor(random() * o.users)).catch(() => {}),
      1000 / o.churn,
    );
    const started = Date.now();
    const total = o.minutes * 60_000;
    // The start sample after a warm-up (JIT, pools, caches), so growth means growth.
    const warmMs = Math.min(60_000, total / 4);
    await sleep(warmMs);
    const names = f.names();
    const first = new Map<string, Sample>();
    for (const n of names) first.set(n, await sample(f, n));
    log(`start sample taken at +${Math.round(warmMs / 1000)} s`);
    while (Date.now() - started < total) {
      await sleep(Math.min(60_000, total - (Date.now() - started)));
      log(
        `+${Math.round((Date.now() - started) / 60_000)} min: ${t.sends.length} sent, ${t.reopened} reopened`,
      );
    }
    clearInterval(churn);
    const last = new Map<string, Sample>();
    for (const n of names) last.set(n, await sample(f, n));
    t.stop();
    await until(() => t.pending() === 0, 60_000, 'every send acknowledged', 500).catch((e: Error) =>
      flags.push(e.message),
    );
    await until(() => t.missingDeliveries() === 0, 60_000, 'every message shown to every member', 500).catch(
      (e: Error) => flags.push(`${e.message}: ${t.missingDeliveries()} missing`),
    );

    // Per process: start vs end.
    const rows = names.map((n) => {
      const a = first.get(n)!;
      const b = last.get(n)!;
      const grew: string[] = [];
      if (b.rssMB > a.rssMB * 1.25 && b.rssMB - a.rssMB > 30) grew.push('RSS');
      if (b.heapMB > a.heapMB * 1.5 && b.heapMB - a.heapMB > 20) grew.push('heap');
      if (b.lagP99ms > 2 * a.lagP99ms && b.lagP99ms > 50) grew.push('lag');
      if (b.fds > a.fds + 20) grew.push('fds');
      if (b.handles > a.handles + 20) grew.push('handles');
      for (const g of grew) flags.push(`${n}: ${g} grew`);
      return [
        n,
        fmt(a.rssMB),
        fmt(b.rssMB),
        fmt(a.heapMB),
        fmt(b.heapMB),
        fmt(a.lagP99ms),
        fmt(b.lagP99ms),
        fmt(a.fds),
        fmt(b.fds),
        fmt(a.handles),
        fmt(b.handles),
        grew.length ? `GREW: ${grew.join(', ')}` : 'flat',
      ];
    });
    tables.push(
      markdownTable(
        [
          'process',
          'RSS MB start',
          'RSS MB end',
          'heap MB start',
          'heap MB end',
          'lag p99 ms start',
          'lag p99 ms end',
          'fds start',
          'fds end',
          'handles start',
          'handles end',
          'verdict',
        ],
        rows,
      ),
    );

    // Per minute: latency of the sends made in it.
    const minutes: (string | number)[][] = [];
    const p99s: number[] = [];
    for (let m = 0; m * 60_000 < total; m++) {
      const sends = t.sends.filter(
        (s) => s.sentAt >= started + m * 60_000 && s.sentAt < started + (m + 1) * 60_000,
      );
      const acks = sends.filter((s) => s.ackedAt !== undefined).map((s) => s.ackedAt! - s.sentAt);
      const e2es = sends.map((s) => t.e2e(s)).filter((x): x is number => x !== undefined);
      p99s.push(percentile(e2es, 99));
      minutes.push([
        m + 1,
        sends.length,
        acks.length,
        fmt(percentile(acks, 50), 0),
        fmt(percentile(acks, 99), 0),
        fmt(percentile(e2es, 50), 0),
        fmt(percentile(e2es, 99), 0),
        sends.length - e2es.length,
      ]);
    }
    const steady = p99s.slice(1).filter((x) => !Number.isNaN(x));
    if (steady.length >= 4) {
      const head = percentile(steady.slice(0, Math.ceil(steady.length / 4)), 50);
      const tail = percentile(steady.slice(-Math.ceil(steady.length / 4)), 50);
      if (tail > 2 * head && tail > 200)
        flags.push(`e2e p99 rose from ${fmt(head, 0)} to ${fmt(tail, 0)} ms`);
    }
    tables.push(
      markdownTable(
        [
          'minute',
          'sent',
          'acked',
          'ack p50 ms',
          'ack p99 ms',
          'e2e p50 ms',
          'e2e p99 ms',
          'not shown to all',
        ],
        minutes,
      ),
    );
    let dups = 0;
    for (const d of t.deliveries.values()) for (const c of d.count.values()) dups += c - 1;
    const unexpected = f.info().reduce((n, p) => n + p.unexpectedExits, 0);
    if (unexpected) flags.push(`${unexpected} process exits nobody asked for`);
    tables.push(
      `${t.sends.length} sent, ${t.sends.filter((s) => s.messageId).length} acked, ${t.reopened} sessions reopened, ` +
        `${t.reconnects.reduce((a, b) => a + b, 0)} unplanned reconnects, ${t.missingDeliveries()} deliveries missing, ` +
        `${dups} duplicates shown (a reopened session may be shown again what the old one held beyond a gap)`,
    );
  } catch (err) {
    flags.push(`error: ${(err as Error).stack ?? String(err)}`);
  } finally {
    traffic?.close();
    lb?.stop();
    await fleet?.close();
    await stack.heal().catch((e: Error) => flags.push(`final heal: ${e.message}`));
  }
  const table = [
    ...tables,
    ...flags.map((fl) => `flag: ${fl}`),
    flags.length ? 'RESULT: FLAGGED' : 'RESULT: flat',
  ].join('\n\n');
  return { table, flags, pass: flags.length === 0 };
}

function parseArgs(argv: string[]): Partial<SoakOptions> {
  const out: Partial<SoakOptions> = {};
  const keys: Record<string, keyof SoakOptions> = {
    '--minutes': 'minutes',
    '--rate': 'rate',
    '--churn': 'churn',
    '--users': 'users',
    '--conversations': 'conversations',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const k = keys[argv[i]!];
    const v = Number(argv[i + 1]);
    if (!k || !Number.isFinite(v) || v <= 0)
      throw new Error(`usage: soak.ts [--minutes N] [--rate N] [--churn N] [--users N] [--conversations N]`);
    (out as Record<string, number>)[k] = v;
  }
  return out;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const r = await runSoak(parseArgs(process.argv.slice(2)));
  process.stdout.write(`\n${r.table}\n`);
  process.exit(r.pass ? 0 : 1);
}
