import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

/** Starts `npm start`'s entry point in a child process and waits for /readyz. */
export async function startServer(
  env: Record<string, string>,
): Promise<{ url: string; proc: ChildProcess; stop: () => Promise<void> }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  const extraArgs = process.env.BENCH_SERVER_NODE_ARGS ? process.env.BENCH_SERVER_NODE_ARGS.split(' ') : [];
  const proc = spawn(process.execPath, [...extraArgs, '--import', 'tsx', 'services/standalone/src/main.ts'], {
    env: {
      // The parent's stack addresses must not leak into an embedded run: only `env` selects adapters.
      ...Object.fromEntries(
        Object.entries(process.env).filter(
          ([k]) => !['MONGO_URL', 'KAFKA_BROKERS', 'REDIS_NODES'].includes(k),
        ),
      ),
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error('server did not become ready');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
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
