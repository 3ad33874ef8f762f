import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const benchDirs = new Set<string>();
process.once('exit', () => {
  for (const d of benchDirs) rmSync(d, { recursive: true, force: true });
});

/**
 * A fresh data directory under the system's temp dir, removed when this process exits (a run at
 * 2,000 msg/s leaves a few hundred MB of SQLite file behind otherwise).
 */
export function benchDir(prefix = 'parley-bench-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  benchDirs.add(dir);
  return dir;
}

/** Percentile of sorted samples (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface LoadResult {
  requests: number;
  errors: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
}

/** Runs `fn` from `concurrency` loops for `durationMs`, timing each call. */
export async function load(
  concurrency: number,
  durationMs: number,
  fn: (i: number) => Promise<boolean>,
): Promise<LoadResult> {
  const lat: number[] = [];
  let errors = 0;
  const end = Date.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      let i = w;
      while (Date.now() < end) {
        const t = performance.now();
        const ok = await fn(i).catch(() => false);
        lat.push(performance.now() - t);
        if (!ok) errors++;
        i += concurrency;
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  lat.sort((a, b) => a - b);
  return {
    requests: lat.length,
    errors,
    perSecond: lat.length / secs,
    p50ms: percentile(lat, 50),
    p99ms: percentile(lat, 99),
  };
}

/**
 * The environment of an embedded server on loopback: the parent's stack addresses must not leak
 * into it (only what the caller adds selects adapters).
 */
export function embeddedEnv(port: number, managementPort: number, dataDir: string): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !['MONGO_URL', 'KAFKA_BROKERS', 'REDIS_NODES'].includes(k) && !k.startsWith('S3_'),
      ),
    ),
    PORT: String(port),
    MANAGEMENT_PORT: String(managementPort),
    HOST: '127.0.0.1',
    MANAGEMENT_HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
}

/** Node flags for the servers a benchmark starts: BENCH_SERVER_NODE_ARGS, split on whitespace. */
export function serverNodeArgs(): string[] {
  return (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
}

/** Starts `npm start`'s entry point in a child process and waits for /readyz. */
export async function startServer(
  env: Record<string, string>,
): Promise<{ url: string; managementUrl: string; proc: ChildProcess; stop: () => Promise<void> }> {
  // Ports the kernel just had free: a random pick collided with the load's own client ports.
  const port = await freePort();
  const managementPort = await freePort();
  const dir = benchDir();
  const argv = [process.execPath, ...serverNodeArgs(), '--import', 'tsx', 'services/standalone/src/main.ts'];
  // BENCH_SERVER_CPUS=1 pins the server to core 1 (taskset execs node: the pid, whose CPU is read, stays).
  const cpus = process.env.BENCH_SERVER_CPUS;
  const [cmd, ...args] = cpus ? ['taskset', '-c', cpus, ...argv] : argv;
  const proc = spawn(cmd!, args, {
    env: { ...embeddedEnv(port, managementPort, dir), ...env },
    stdio: ['ignore', process.env.BENCH_SERVER_STDOUT ? 'inherit' : 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const managementUrl = `http://127.0.0.1:${managementPort}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${managementUrl}/readyz`)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error('server did not become ready');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    managementUrl,
    proc,
    stop: () =>
      new Promise((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

export function table(rows: Record<string, string | number>[]): string {
  const cols = Object.keys(rows[0] ?? {});
  const fmt = (v: string | number) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v;
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]!).length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  return [
    line(cols),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => fmt(r[c]!)))),
  ].join('\n');
}

/** `uptime`'s load averages and the core count, to print next to every figure. */
export function loadNote(): string {
  const [a, b, c] = loadavg();
  return `load ${a!.toFixed(2)} ${b!.toFixed(2)} ${c!.toFixed(2)} on ${cpus().length} cores`;
}

/** A process's resident set in KB (VmRSS of /proc/<pid>/status), or NaN once it is gone. */
export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/**
 * The read and write syscalls a process has made, sockets and files alike (Linux's
 * /proc/PID/io; NaN elsewhere). On a VM a loopback write can cost more CPU than the JavaScript
 * that asked for it, so bench:cost prints them per message beside the CPU.
 */
export function syscalls(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return { reads: NaN, writes: NaN };
  }
}

/** Prometheus text exposition → series (name plus labels, as written) → value. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Sum of every series of metric `name`, whatever its labels. */
export function metric(series: Map<string, number>, name: string): number {
  let sum = 0;
  let found = false;
  for (const [k, v] of series)
    if (k === name || k.startsWith(`${name}{`)) {
      sum += v;
      found = true;
    }
  return found ? sum : NaN;
}

export interface HistogramDelta {
  count: number;
  meanMs: number;
  /** Upper bounds of the buckets holding the median and the 99th percentile (ms; Infinity: above the last bucket). */
  p50LeMs: number;
  p99LeMs: number;
}

/** What a histogram recorded between two scrapes, with percentiles as bucket upper bounds. */
export function histogramDelta(
  before: Map<string, number>,
  after: Map<string, number>,
  name: string,
): HistogramDelta {
  const d = (k: string) => (metric(after, k) || 0) - (metric(before, k) || 0);
  const count = d(`${name}_count`);
  const les = new Map<number, number>(); // le → cumulative count delta, summed over other labels
  for (const [k, v] of after) {
    const le = k.startsWith(`${name}_bucket{`) ? /le="([^"]+)"/.exec(k) : null;
    const bound = le ? (le[1] === '+Inf' ? Infinity : Number(le[1])) : NaN;
    if (le) les.set(bound, (les.get(bound) ?? 0) + v - (before.get(k) ?? 0));
  }
  const buckets = [...les].map(([le, n]) => ({ le, n })).sort((x, y) => x.le - y.le);
  const q = (p: number) => (buckets.find((b) => b.n >= p * count)?.le ?? NaN) * 1000;
  return {
    count,
    meanMs: count ? (d(`${name}_sum`) / count) * 1000 : NaN,
    p50LeMs: q(0.5),
    p99LeMs: q(0.99),
  };
}

const handedOut = new Set<number>();

/**
 * A free TCP port on 127.0.0.1 (closed again before use; fine for spawning servers). Never one
 * this process was given before: two calls in a row can otherwise get the same port back from the
 * kernel, and a service given it as both PORT and MANAGEMENT_PORT refuses to start.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Polls `url` until it answers 200 (or the process exits, or 60 s pass). */
export async function waitReady(url: string, proc?: ChildProcess, what = url): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline || (proc && proc.exitCode !== null))
      throw new Error(`${what} did not become ready`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Least-squares line through (x, y): slope and intercept. */
export function linearFit(xs: number[], ys: number[]): { slope: number; intercept: number } {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = sxx ? sxy / sxx : NaN;
  return { slope, intercept: my - slope * mx };
}
