/**
 * Parley's own processes for a fault run: the auth service, message gateways (`ROLE=api`) and
 * workers (`ROLE=worker`) on the real local stack, each on a fixed port (a restart comes back on the
 * same address, like a pod behind a Service), with run-unique topics, groups and Redis prefix.
 * A process that exits without being told to is restarted with backoff, as a kubelet would, and
 * counted: the harness reports those exits per fault.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningJwk } from '@parley/auth';
import { dropRun } from './topics.ts';

const MESSAGE_MAIN = new URL('../../services/message/src/main.ts', import.meta.url).pathname;
const AUTH_MAIN = new URL('../../services/auth/src/main.ts', import.meta.url).pathname;

export type Role = 'auth' | 'api' | 'worker';

export interface ProcessInfo {
  name: string;
  role: Role;
  url: string;
  pid: number | undefined;
  /** Exits the fleet did not ask for (crashes, start-up failures), since the start. */
  unexpectedExits: number;
  /** Starts after the first (asked-for restarts and supervisor restarts). */
  restarts: number;
}

interface Member {
  name: string;
  role: Role;
  port: number;
  /** The management server's port: /readyz and /metrics. */
  managementPort: number;
  child: ChildProcess | undefined;
  /** Set while the fleet itself kills or stops the process. */
  expectExit: boolean;
  stopped: boolean;
  unexpectedExits: number;
  restarts: number;
  starts: number;
  backoffMs: number;
  log: string[];
  file: WriteStream;
  retry: NodeJS.Timeout | undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` until true; throws with `what` (computed then, so it can hold fresh logs) after `timeoutMs`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string | (() => string),
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve(cond()).catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    await sleep(intervalMs);
  }
}

export async function httpOk(url: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export interface FleetOptions {
  /** Short tag in topic, group and key names (default: random). */
  tag?: string;
  /** Extra env for every process (e.g. shorter session timeouts). */
  env?: Record<string, string>;
  logLevel?: string;
}

export class Fleet {
  readonly tag: string;
  readonly env: Record<string, string>;
  /** Each process's full output, kept after the run: <logDir>/<name>.log. */
  readonly logDir: string;
  private readonly dir: string;
  private readonly members = new Map<string, Member>();
  private closed = false;

  constructor(opts: FleetOptions = {}) {
    this.tag = opts.tag ?? `chaos-${randomBytes(3).toString('hex')}`;
    this.dir = mkdtempSync(join(tmpdir(), 'parley-chaos-'));
    this.logDir = join(tmpdir(), `parley-${this.tag}-logs`);
    mkdirSync(this.logDir, { recursive: true });
    const need = (k: string) => {
      const v = process.env[k];
      if (!v) throw new Error(`${k} is not set: eval "$(bash scripts/stack/env.sh)"`);
      return v;
    };
    const t = this.tag;
    this.env = {
      HOST: '127.0.0.1',
      DATA_DIR: this.dir,
      MONGO_URL: need('MONGO_URL'),
      KAFKA_BROKERS: need('KAFKA_BROKERS'),
      REDIS_NODES: need('REDIS_NODES'),
      REDIS_KEY_PREFIX: `parley-${t}:`,
      TOPIC_CHAT_MESSAGES: `${t}.chat.messages`,
      TOPIC_CHAT_EVENTS: `${t}.chat.events`,
      TOPIC_CHAT_DLQ: `${t}.chat.messages.dlq`,
      TOPIC_USER_EVENTS: `${t}.user.events`,
      CHAT_TOPIC_PARTITIONS: '8',
      WORKER_GROUP_ID: `${t}.message-worker`,
      FANOUT_GROUP_ID: `${t}.message-fanout`,
      RATE_LIMIT_PER_MINUTE: '1000000',
      SEND_RATE_PER_MINUTE: '1000000',
      RATE_LIMIT_REGISTER_PER_15MIN: '100000',
      WEB_DEMO_ENABLED: 'false',
      LOG_LEVEL: opts.logLevel ?? 'warn',
      ...opts.env,
    };
  }

  /** The topology of every run: auth, gateways gw-a and gw-b, workers worker-1 and worker-2. */
  async startParley(): Promise<void> {
    await this.startAuth();
    await Promise.all([this.add('gw-a', 'api'), this.add('gw-b', 'api')]);
    await Promise.all([this.add('worker-1', 'worker'), this.add('worker-2', 'worker')]);
  }

  /** Starts the auth service first (the message processes need its JWKS URL). */
  async startAuth(): Promise<void> {
    this.env.JWT_SIGNING_KEYS = JSON.stringify([await generateSigningJwk(`${this.tag}-k1`)]);
    await this.add('auth', 'auth');
    this.env.AUTH_JWKS_URL = `${this.url('auth')}/.well-known/jwks.json`;
  }

  /** Adds and starts a process; resolves once its /readyz answers 200. */
  async add(name: string, role: Role, readyTimeoutMs = 90_000): Promise<void> {
    const m: Member = {
      name,
      role,
      port: await freePort(),
      managementPort: await freePort(),
      child: undefined,
      expectExit: false,
      stopped: false,
      unexpectedExits: 0,
      restarts: 0,
      starts: 0,
      backoffMs: 500,
      log: [],
      file: createWriteStream(join(this.logDir, `${name}.log`), { flags: 'a' }),
      retry: undefined,
    };
    this.members.set(name, m);
    this.spawn(m);
    await this.waitReady(name, readyTimeoutMs);
  }

  url(name: string): string {
    return `http://127.0.0.1:${this.member(name).port}`;
  }

  names(role?: Role): string[] {
    return [...this.members.values()].filter((m) => !role || m.role === role).map((m) => m.name);
  }

  info(): ProcessInfo[] {
    return [...this.members.values()].map((m) => ({
      name: m.name,
      role: m.role,
      url: this.url(m.name),
      pid: m.child?.pid,
      unexpectedExits: m.unexpectedExits,
      restarts: m.restarts,
    }));
  }

  /** The last lines a process wrote (stdout and stderr). */
  logTail(name: string, lines = 30): string {
    return this.member(name).log.slice(-lines).join('');
  }

  /** The management server of a process (/readyz, /metrics). */
  managementUrl(name: string): string {
    return `http://127.0.0.1:${this.member(name).managementPort}`;
  }

  /** The readiness URL of the process serving `url`. */
  readyUrl(url: string): string {
    const m = [...this.members.values()].find((x) => this.url(x.name) === url);
    if (!m) throw new Error(`no process serves ${url}`);
    return `${this.managementUrl(m.name)}/readyz`;
  }

  async ready(name: string): Promise<boolean> {
    return httpOk(`${this.managementUrl(name)}/readyz`);
  }

  async waitReady(name: string, timeoutMs = 90_000): Promise<void> {
    await until(
      () => this.ready(name),
      timeoutMs,
      () => `${name} ready (log: ${this.logTail(name, 15)})`,
      250,
    );
  }

  /** Sends `signal` and waits for the exit; the supervisor does not restart it. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.member(name);
    m.stopped = true;
    clearTimeout(m.retry);
    const child = m.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    m.expectExit = true;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
  }

  /** Starts a killed process again on its port; resolves once ready. */
  async restart(name: string, readyTimeoutMs = 90_000): Promise<void> {
    const m = this.member(name);
    if (m.child && m.child.exitCode === null && m.child.signalCode === null) await this.kill(name);
    this.start(name);
    await this.waitReady(name, readyTimeoutMs);
  }

  /** Starts a killed process again on its port, without waiting for it to be ready. */
  start(name: string): void {
    const m = this.member(name);
    m.stopped = false;
    m.backoffMs = 500;
    this.spawn(m);
  }

  /** Prometheus text of a process's /metrics. */
  async metrics(name: string): Promise<string> {
    const res = await fetch(`${this.managementUrl(name)}/metrics`, { signal: AbortSignal.timeout(5000) });
    return res.text();
  }

  /** Stops every process (SIGTERM, then SIGKILL) and deletes the run's topics and groups. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.members.values()].map(async (m) => {
        await this.kill(m.name, 'SIGTERM').catch(() => {});
      }),
    );
    // SIGTERM lets the workers commit; anything still around after that is cut off.
    for (const m of this.members.values()) {
      if (m.child && m.child.exitCode === null) m.child.kill('SIGKILL');
      m.file.end();
    }
    rmSync(this.dir, { recursive: true, force: true });
    // Every run makes new topics and groups; the broker would keep them (and load them at each start).
    const e = this.env;
    await dropRun(
      e.KAFKA_BROKERS!,
      [e.TOPIC_CHAT_MESSAGES!, e.TOPIC_CHAT_EVENTS!, e.TOPIC_CHAT_DLQ!, e.TOPIC_USER_EVENTS!],
      [e.WORKER_GROUP_ID!, e.FANOUT_GROUP_ID!],
    ).catch((err: Error) => process.stderr.write(`could not delete the run's topics: ${err.message}\n`));
  }

  private member(name: string): Member {
    const m = this.members.get(name);
    if (!m) throw new Error(`no process named ${name}`);
    return m;
  }

  private spawn(m: Member): void {
    const main = m.role === 'auth' ? AUTH_MAIN : MESSAGE_MAIN;
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: {
        ...process.env,
        ...this.env,
        ...(m.role === 'auth' ? {} : { ROLE: m.role }),
        PORT: String(m.port),
        MANAGEMENT_PORT: String(m.managementPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (m.starts++ > 0) m.restarts++;
    m.child = child;
    m.expectExit = false;
    m.file.write(`\n[fleet] ${new Date().toISOString()} starting ${m.name} (${m.role}) on :${m.port}\n`);
    const keep = (d: Buffer) => {
      m.file.write(d);
      m.log.push(d.toString());
      if (m.log.length > 400) m.log.splice(0, m.log.length - 300);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', (code, signal) => {
      if (m.child !== child) return;
      const line = `\n[fleet] ${new Date().toISOString()} ${m.name} exited (code ${code}, signal ${signal})\n`;
      m.log.push(line);
      m.file.write(line);
      if (m.expectExit || m.stopped || this.closed) return;
      m.unexpectedExits++;
      m.retry = setTimeout(() => {
        if (!m.stopped && !this.closed) this.spawn(m);
      }, m.backoffMs);
      m.backoffMs = Math.min(m.backoffMs * 2, 10_000);
    });
  }
}
