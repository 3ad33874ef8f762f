/**
 * Shared by the gateway benchmarks: the auth service in-process, message-service processes
 * (`ROLE=api` / `ROLE=worker`) on the real local stack with per-run topics, groups and Redis
 * prefix (the pattern of services/message/src/gateway.int.test.ts), and REST helpers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { authModule, authSettings, generateSigningJwk } from '@parley/auth';
import type { Infer, Running } from '@parley/common';
import { runService } from '@parley/common/service';
import { benchDir, freePort, serverNodeArgs, waitReady } from './lib.ts';

const MESSAGE_MAIN = new URL('../../services/message/src/main.ts', import.meta.url).pathname;
const STACK_VARS = ['MONGO_URL', 'KAFKA_BROKERS', 'REDIS_NODES'];

/**
 * Every message process this process started and has not seen exit: killed when this process
 * exits, whatever the caller did. A caller that loses one (a `Promise.all` whose other start
 * failed) would otherwise leave it running, holding the test runner's output pipe open.
 */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Env of one real-stack run: the stack's addresses plus names no other run uses. */
export function realStackEnv(prefix: string, extra: Record<string, string>): Record<string, string> {
  const tag = `${prefix}-${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    MANAGEMENT_HOST: '127.0.0.1',
    DATA_DIR: benchDir(),
    REDIS_KEY_PREFIX: `parley-${tag}:`,
    TOPIC_CHAT_MESSAGES: `${tag}.chat.messages`,
    TOPIC_CHAT_EVENTS: `${tag}.chat.events`,
    TOPIC_CHAT_DLQ: `${tag}.chat.messages.dlq`,
    TOPIC_USER_EVENTS: `${tag}.user.events`,
    WORKER_GROUP_ID: `${tag}.message-worker`,
    FANOUT_GROUP_ID: `${tag}.message-fanout`,
    ...extra,
  };
  for (const k of STACK_VARS) {
    if (!process.env[k]) throw new Error(`${k} is not set: eval "$(bash scripts/stack/env.sh)"`);
    env[k] = process.env[k]!;
  }
  return env;
}

/** The auth service in this process; sets env.AUTH_JWKS_URL for the message processes. */
export async function startAuth(env: Record<string, string>): Promise<Running> {
  const spec = authSettings;
  const auth = await runService({
    name: 'parley-auth',
    spec,
    env: {
      ...env,
      PORT: '0',
      MANAGEMENT_PORT: '0',
      LOG_LEVEL: 'silent',
      JWT_SIGNING_KEYS: JSON.stringify([await generateSigningJwk('bench')]),
    },
    modules: () => [authModule<Infer<typeof spec>>()],
  });
  await auth.ready;
  env.AUTH_JWKS_URL = `${auth.url}/.well-known/jwks.json`;
  return auth;
}

export interface Proc {
  url: string;
  /** The management server: /readyz, /metrics. */
  managementUrl: string;
  proc: ChildProcess;
  stop: () => Promise<void>;
}

/** One message-service process of `role`, ready (its /readyz answers 200). */
export async function startMessage(
  role: 'api' | 'worker' | 'media' | 'notifier',
  env: Record<string, string>,
): Promise<Proc> {
  const [port, managementPort] = [await freePort(), await freePort()];
  // BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the processes.
  const proc = spawn(process.execPath, [...serverNodeArgs(), '--import', 'tsx', MESSAGE_MAIN], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      ...env,
      ROLE: role,
      PORT: String(port),
      MANAGEMENT_PORT: String(managementPort),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const url = `http://127.0.0.1:${port}`;
  const managementUrl = `http://127.0.0.1:${managementPort}`;
  try {
    await waitReady(`${managementUrl}/readyz`, proc, `message ${role}`);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    managementUrl,
    proc,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

export async function post<T>(
  base: string,
  path: string,
  token: string | undefined,
  body: unknown,
): Promise<T> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

export interface BenchUser {
  id: string;
  username: string;
  token: string;
}

/** Registers `n` users, `concurrency` at a time (argon2id makes each one slow on purpose). */
export async function registerUsers(
  authUrl: string,
  prefix: string,
  n: number,
  concurrency = 4,
): Promise<BenchUser[]> {
  const users: BenchUser[] = new Array(n);
  const tag = randomBytes(3).toString('hex');
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const username = `${prefix}_${tag}_${i}`;
        const r = await post<{ user: { id: string }; tokens: { accessToken: string } }>(
          authUrl,
          '/v1/auth/register',
          undefined,
          { username, password: 'benchmark passphrase 42' },
        );
        users[i] = { id: r.user.id, username, token: r.tokens.accessToken };
      }
    }),
  );
  return users;
}

export async function createConversation(
  base: string,
  owner: BenchUser,
  type: 'direct' | 'group',
  members: BenchUser[],
): Promise<string> {
  const r = await post<{ id: string }>(base, '/v1/conversations', owner.token, {
    type,
    ...(type === 'group' ? { title: 'bench' } : {}),
    members: members.map((m) => m.username),
  });
  return r.id;
}
