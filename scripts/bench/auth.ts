/**
 * Login and token-verify throughput of the auth service, embedded and on the real local stack.
 *   node --import tsx scripts/bench/auth.ts [--duration 10] [--concurrency 16] [--stack embedded,real]
 * The real stack needs scripts/stack/up.sh; the addresses come from scripts/stack/env.sh.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { AccessTokenVerifier } from '@parley/common';
import { MemoryCache } from '@parley/common/testing';
import { load, startServer, table } from './lib.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    stack: { type: 'string', default: 'embedded,real' },
    runs: { type: 'string', default: '3' },
  },
});
const durationMs = Number(values.duration) * 1000;
const concurrency = Number(values.concurrency);
const PASSWORD = 'benchmark passphrase 42';

const rows: Record<string, string | number>[] = [];
for (let run = 0; run < Number(values.runs); run++)
  for (const stack of values.stack!.split(',')) {
    const env: Record<string, string> = {
      RATE_LIMIT_PER_MINUTE: '1000000',
      SEND_RATE_PER_MINUTE: '1000000',
      RATE_LIMIT_LOGIN_FAILURES_PER_15MIN: '100000',
      RATE_LIMIT_REGISTER_PER_15MIN: '100000',
    };
    if (stack === 'real') {
      for (const k of ['MONGO_URL', 'KAFKA_BROKERS', 'REDIS_NODES']) {
        if (!process.env[k]) throw new Error(`${k} is not set: eval "$(bash scripts/stack/env.sh)"`);
        env[k] = process.env[k]!;
      }
    }
    const server = await startServer(env);
    try {
      const users = await Promise.all(
        Array.from({ length: concurrency }, async () => {
          const username = `bench_${randomBytes(5).toString('hex')}`;
          const res = await fetch(`${server.url}/v1/auth/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username, password: PASSWORD }),
          });
          const body = (await res.json()) as { tokens: { accessToken: string } };
          if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(body)}`);
          return { username, token: body.tokens.accessToken };
        }),
      );
      // Warm-up (JIT, connection pools, SQLite page cache) is not measured.
      await load(concurrency, 3000, async (i) => {
        const res = await fetch(`${server.url}/v1/users/me`, {
          headers: { authorization: `Bearer ${users[i % users.length]!.token}` },
        });
        await res.arrayBuffer();
        return true;
      });
      const me = await load(concurrency, durationMs, async (i) => {
        const res = await fetch(`${server.url}/v1/users/me`, {
          headers: { authorization: `Bearer ${users[i % users.length]!.token}` },
        });
        await res.arrayBuffer();
        return res.status === 200;
      });
      rows.push({ stack, operation: 'GET /v1/users/me (verify JWT + revocation + read)', ...me });
      const login = await load(concurrency, durationMs, async (i) => {
        const res = await fetch(`${server.url}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ login: users[i % users.length]!.username, password: PASSWORD }),
        });
        await res.arrayBuffer();
        return res.status === 200;
      });
      rows.push({ stack, operation: 'POST /v1/auth/login (argon2id verify + session)', ...login });
      if (stack === values.stack!.split(',')[0]) {
        // The verifier alone, in this process: the cost every authenticated request pays, first
        // for a token it has not seen (the signature check), then for one it verified lately.
        const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as never;
        for (const [operation, verifiedCacheSize] of [
          ['AccessTokenVerifier.verify, signature (EdDSA, no I/O)', 0],
          ['AccessTokenVerifier.verify, a token verified lately', undefined],
        ] as const) {
          const verifier = new AccessTokenVerifier({
            issuer: 'parley-auth',
            audience: 'parley',
            keys: { jwks: () => jwks },
            cache: new MemoryCache(),
            ...(verifiedCacheSize === undefined ? {} : { verifiedCacheSize }),
          });
          const verify = await load(1, durationMs, async (i) => {
            await verifier.verify(users[i % users.length]!.token);
            return true;
          });
          rows.push({ stack: 'in-process', operation, ...verify });
        }
      }
    } finally {
      await server.stop();
    }
  }
// Medians across runs: this machine's speed drifts between runs, so one run can mislead.
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const groups = new Map<string, Record<string, string | number>[]>();
for (const r of rows)
  groups.set(`${r.stack}|${r.operation}`, [...(groups.get(`${r.stack}|${r.operation}`) ?? []), r]);
console.log(
  `\nauth throughput, ${concurrency} concurrent clients, ${durationMs / 1000} s per measurement, median of ${values.runs} runs, ${new Date().toISOString()}`,
);
console.log(
  table(
    [...groups.values()].map((g) => ({
      stack: g[0]!.stack!,
      operation: g[0]!.operation!,
      'req/s': median(g.map((r) => r.perSecond as number)),
      'p50 ms': median(g.map((r) => r.p50ms as number)),
      'p99 ms': median(g.map((r) => r.p99ms as number)),
      'req/s per run': g.map((r) => Math.round(r.perSecond as number)).join(' / '),
      errors: g.reduce((a, r) => a + (r.errors as number), 0),
    })),
  ),
);
