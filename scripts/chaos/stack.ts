/** The local stack's servers, driven through scripts/stack/ctl.sh (stop, start, kill, heal). */
import { execFile } from 'node:child_process';

const CTL = new URL('../stack/ctl.sh', import.meta.url).pathname;

export interface CtlResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

export function ctl(args: string[], timeoutMs = 180_000): Promise<CtlResult> {
  return new Promise((resolve) => {
    execFile('bash', [CTL, ...args], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) =>
      resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

async function must(args: string[], timeoutMs?: number): Promise<string> {
  const r = await ctl(args, timeoutMs);
  if (!r.ok) throw new Error(`scripts/stack/ctl.sh ${args.join(' ')} failed: ${r.stderr.slice(-1500)}`);
  return r.stdout;
}

export const stack = {
  stop: (server: 'kafka' | 'ferretdb') => must(['stop', server]),
  start: (server: 'kafka' | 'ferretdb') => must(['start', server]),
  restart: (server: 'kafka' | 'ferretdb') => must(['restart', server]),
  /** SIGKILLs a Redis master (the first by port unless given); returns its port. */
  killRedisMaster: async (port?: number) =>
    Number((await must(['kill-redis-master', ...(port ? [String(port)] : [])])).trim()),
  redisFailedOver: async (port: number) => (await ctl(['redis-failed-over', String(port)], 30_000)).ok,
  /** Starts whatever is down (up.sh) and waits for 3 Redis masters with connected replicas. */
  heal: (timeoutS = 150) => must(['heal', String(timeoutS)], (timeoutS + 60) * 1000),
};
