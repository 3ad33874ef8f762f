/**
 * WebSocket fuzzer (#8, "Hostile input"): one embedded Parley process, a group of well-behaved
 * clients chatting at a steady rate, and an attacker process that throws every kind of bad input at
 * the same gateway. Pass: every attack gets the answer or close code the protocol promises (codes
 * from CloseCodes in services/message/src/gateway/protocol.ts, or RFC 6455's own for frame-level
 * violations that `ws` rejects before Parley sees them), the good clients lose no message and no
 * socket, and the server is still healthy afterwards. The good clients' send → receive p99 during
 * the attack is printed beside the no-attack baseline.
 *
 *   node --import tsx scripts/hostile/wsfuzz.ts            # ~60 s: 15 s baseline, 30 s attack
 *   node --import tsx scripts/hostile/wsfuzz.ts --short    # CI: ~30 s, smaller floods
 *   node --import tsx scripts/hostile/wsfuzz.ts --baseline 30 --attack 60 --pending 3000 --max-pending 2000
 *
 * Processes: this one (orchestrator and good clients), the server (services/standalone), and the
 * attacker (this file with --role attack), so the attacker's event loop does not skew the good
 * clients' latency. Traffic goes to 127.0.0.1 only; attacker sockets spread over 127.0.0.2-250.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { CloseCodes } from '../../services/message/src/gateway/protocol.ts';
import { attacker, RFC, type Tally } from './wsattack.ts';
import { cpuSeconds, loadNote, percentile, rssKb, startServer, table } from '../bench/lib.ts';

const SELF = new URL(import.meta.url).pathname;
const { values: args } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    baseline: { type: 'string' },
    attack: { type: 'string' },
    users: { type: 'string', default: '8' },
    rate: { type: 'string', default: '2.5' }, // messages per second per good user
    pending: { type: 'string' }, // unauthenticated sockets the flood keeps open
    'max-pending': { type: 'string' }, // WS_MAX_PENDING_AUTH of the server under attack
    role: { type: 'string' },
    only: { type: 'string' }, // comma-separated attack keys (malformed,random,…); default all
  },
});
const short = args.short;
const BASELINE_S = Number(args.baseline ?? (short ? 8 : 15));
const ATTACK_S = Number(args.attack ?? (short ? 15 : 30));
const MAX_PENDING = Number(args['max-pending'] ?? (short ? 300 : 1000));
const PENDING = Number(args.pending ?? Math.round(MAX_PENDING * 1.5));
/** Slow request headers are cut after this (short, so the run sees it happen). */
const HEADERS_TIMEOUT_MS = 3000;
/** Server settings under attack: short timeouts so stalled sockets are cut within the run. */
const SERVER_ENV = {
  HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
  WS_MAX_PENDING_AUTH: String(MAX_PENDING),
  WS_AUTH_TIMEOUT_MS: '2000',
  WS_HEARTBEAT_MS: '3000',
  WS_MAX_FRAME_BYTES: '131072',
  LOG_LEVEL: 'error',
  RATE_LIMIT_PER_MINUTE: '100000',
  SEND_RATE_PER_MINUTE: '100000',
  RATE_LIMIT_REGISTER_PER_15MIN: '100000',
};
const PARLEY_CODES = new Set<number>(Object.values(CloseCodes).map((c) => c.code));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Good {
  ws: WebSocket;
  userId: string;
  closes: number[];
}

async function main(): Promise<void> {
  const t0 = Date.now();
  console.log(`wsfuzz: ${loadNote()} (uptime at start)`);
  const server = await startServer(SERVER_ENV);
  const base = server.url;
  const post = async (path: string, token: string | undefined, body: unknown) => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { id: string; user: { id: string }; tokens: { accessToken: string } };
  };
  const tag = randomBytes(3).toString('hex');
  const register = (name: string) =>
    post('/v1/auth/register', undefined, { username: `${name}_${tag}`, password: 'correct horse battery' });
  const users = Number(args.users);
  const good = await Promise.all(Array.from({ length: users }, (_, i) => register(`good${i}`)));
  // Attackers are real accounts: most attacks come from signed-in clients.
  const bad = await Promise.all(Array.from({ length: 16 }, (_, i) => register(`bad${i}`)));
  const conv = await post('/v1/conversations', good[0]!.tokens.accessToken, {
    type: 'group',
    title: 'fuzz',
    members: good.slice(1).map((_, i) => `good${i + 1}_${tag}`),
  });
  const wsUrl = base.replace('http', 'ws') + '/v1/ws';

  // Latency: the sender stamps each clientMsgId, every other member measures send → message.created.
  const sentAt = new Map<string, number>();
  const pendingRecipients = new Map<string, number>();
  let phase = 'warmup';
  const lat: Record<string, number[]> = {};
  const phaseOf = new Map<string, string>();
  let acks = 0;
  let sendErrors = 0;
  const errorCodes: Record<string, number> = {};
  const clients: Good[] = await Promise.all(
    good.map(
      (u) =>
        new Promise<Good>((resolve, reject) => {
          const ws = new WebSocket(wsUrl, ['parley.v1', `parley.bearer.${u.tokens.accessToken}`], {
            perMessageDeflate: false,
          });
          const g: Good = { ws, userId: u.user.id, closes: [] };
          ws.on('message', (d) => {
            const f = JSON.parse(d.toString()) as {
              type: string;
              code?: string;
              data?: { clientMsgId: string; senderId: string };
            };
            if (f.type === 'ready') resolve(g);
            else if (f.type === 'ack') acks++;
            else if (f.type === 'error') {
              sendErrors++;
              errorCodes[f.code!] = (errorCodes[f.code!] ?? 0) + 1;
            } else if (f.type === 'message.created' && f.data && f.data.senderId !== g.userId) {
              const at = sentAt.get(f.data.clientMsgId);
              if (at === undefined) return;
              const p = phaseOf.get(f.data.clientMsgId);
              if (p && !['warmup', 'between', 'drain'].includes(p))
                (lat[p] ??= []).push(performance.now() - at);
              pendingRecipients.set(f.data.clientMsgId, pendingRecipients.get(f.data.clientMsgId)! - 1);
            }
          });
          ws.on('close', (code) => g.closes.push(code));
          ws.on('error', reject);
        }),
    ),
  );

  // A probe that keeps opening fresh, authenticated sockets: can a new user still get in?
  const probe: Record<
    string,
    { ok: number; refused: number; ms: number[]; outcomes: Record<string, number> }
  > = {};
  const probeLoop = async () => {
    while (phase !== 'drain') {
      const p = phase;
      const started = performance.now();
      const outcome = await new Promise<string>((resolve) => {
        const ws = new WebSocket(wsUrl, ['parley.v1', `parley.bearer.${good[0]!.tokens.accessToken}`], {
          perMessageDeflate: false,
        });
        const end = (o: string) => {
          clearTimeout(timer);
          ws.terminate();
          resolve(o);
        };
        const timer = setTimeout(() => end('timeout'), 5000);
        ws.on('message', (d) => d.toString().includes('"ready"') && end('ok'));
        ws.on('unexpected-response', (_q, res) => end(`HTTP ${res.statusCode}`));
        ws.on('error', () => end('error'));
        ws.on('close', (code) => end(`close ${code}`));
      });
      if (!['warmup', 'between', 'drain'].includes(p)) {
        const pr = (probe[p] ??= { ok: 0, refused: 0, ms: [], outcomes: {} });
        if (outcome === 'ok') {
          pr.ok++;
          pr.ms.push(performance.now() - started);
        } else {
          pr.refused++;
          pr.outcomes[outcome] = (pr.outcomes[outcome] ?? 0) + 1;
        }
      }
      await sleep(250);
    }
  };

  let seq = 0;
  const rate = Number(args.rate);
  const sendLoop = async () => {
    const interval = 1000 / (rate * clients.length);
    let next = performance.now();
    while (phase !== 'drain') {
      const c = clients[seq % clients.length]!;
      const clientMsgId = `fz-${seq++}`;
      sentAt.set(clientMsgId, performance.now());
      phaseOf.set(clientMsgId, phase);
      pendingRecipients.set(clientMsgId, clients.length - 1);
      if (c.ws.readyState === WebSocket.OPEN)
        c.ws.send(
          JSON.stringify({ type: 'send', conversationId: conv.id, clientMsgId, body: `hello ${seq}` }),
        );
      next += interval;
      await sleep(Math.max(0, next - performance.now()));
    }
  };

  // prom-client resets its event-loop delay histogram on every scrape: one scrape per phase boundary.
  const loopLag = async () => {
    const text = await (await fetch(`${server.managementUrl}/metrics`)).text();
    const v = (n: string) => Number(new RegExp(`^${n}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]) * 1000;
    return { p99: v('nodejs_eventloop_lag_p99_seconds'), max: v('nodejs_eventloop_lag_max_seconds') };
  };
  const pid = server.proc.pid!;
  const rss0 = rssKb(pid);
  let rssPeak = rss0;
  const stages: { name: string; secs: number; cpu: number; lag: { p99: number; max: number } }[] = [];
  const tallies: Tally[] = [];
  /** Runs one stage: optionally an attacker process with the given attacks, for `secs` seconds. */
  const stage = async (name: string, secs: number, attacks?: string) => {
    let child: ChildProcess | undefined;
    let results: Promise<Tally[]> | undefined;
    const only = args.only?.split(',');
    attacks =
      attacks && only
        ? attacks
            .split(',')
            .filter((a) => only.includes(a))
            .join(',')
        : attacks;
    if (attacks === '') return;
    if (attacks) {
      child = fork(
        SELF,
        [
          '--role',
          'attack',
          '--only',
          attacks,
          ...(short ? ['--short'] : []),
          ...(args['max-pending'] ? ['--max-pending', args['max-pending']] : []),
          ...(args.pending ? ['--pending', args.pending] : []),
        ],
        {
          execArgv: ['--import', 'tsx'],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        },
      );
      results = new Promise<Tally[]>((resolve) => child!.once('message', (m) => resolve(m as Tally[])));
      child.send({ url: base, tokens: bad.map((b) => b.tokens.accessToken) });
    }
    await loopLag();
    const cpu = cpuSeconds(pid);
    phase = name;
    const end = Date.now() + secs * 1000;
    while (Date.now() < end) {
      rssPeak = Math.max(rssPeak, rssKb(pid));
      await sleep(Math.min(500, end - Date.now()));
    }
    stages.push({ name, secs, cpu: (cpuSeconds(pid) - cpu) / secs, lag: await loopLag() });
    phase = 'between';
    if (child) {
      child.send({ stop: true });
      tallies.push(...(await Promise.race([results!, sleep(30_000).then(() => [] as Tally[])])));
      child.kill('SIGKILL');
    }
  };
  await sleep(1000);
  phase = 'between';
  const sending = sendLoop();
  const probing = probeLoop();
  await stage('baseline', BASELINE_S);
  // Frame-level attacks first, then the connection flood alone: the flood fills the pending-auth
  // pool, and every other attack would then mostly measure 503s.
  await stage(
    'frame attacks',
    ATTACK_S,
    'malformed,random,binary,huge,hugeAnon,declared,badUtf8,rsv,deep,deepAuthed,keys,flood,slowFrame,slowAnon,slowHttp',
  );
  await stage('connect flood', ATTACK_S / 2, 'pending');
  await stage('after', BASELINE_S / 2);
  phase = 'drain';
  await Promise.all([sending, probing]);

  // Every message from both phases must reach every other member.
  const deadline = Date.now() + 10_000;
  const missing = () => [...pendingRecipients.values()].reduce((a, b) => a + b, 0);
  while (missing() > 0 && Date.now() < deadline) await sleep(100);
  const healthz = await fetch(`${base}/healthz`)
    .then((r) => r.status)
    .catch(() => 0);
  const after = await new Promise<string>((resolve) => {
    const ws = new WebSocket(wsUrl, ['parley.v1', `parley.bearer.${good[1]!.tokens.accessToken}`]);
    ws.on('message', (d) => d.toString().includes('"ready"') && (ws.close(), resolve('ready')));
    ws.on('unexpected-response', (_q, res) => resolve(`HTTP ${res.statusCode}`));
    ws.on('close', (code) => resolve(`close ${code}`));
    setTimeout(() => resolve('timeout'), 10_000);
  });
  const rss1 = rssKb(pid);
  for (const c of clients) c.ws.close();
  await server.stop();

  // ── report ──
  const codeName = (o: string) => {
    const code = Number(/^close (\d+)/.exec(o)?.[1]);
    if (!code) return o;
    const name = Object.entries(CloseCodes).find(([, v]) => v.code === code)?.[0];
    return name ? `${o} ${name}` : `${o} (RFC 6455)`;
  };
  const fmt = (r: Record<string, number>) =>
    Object.entries(r)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${codeName(k)} ×${v}`)
      .join(', ') || '-';
  // A close code outside CloseCodes is allowed only where RFC 6455 (ws) owns it.
  const foreign = (t: Tally) =>
    Object.keys(t.outcomes).filter((o) => {
      const code = Number(/^close (\d+)/.exec(o)?.[1]);
      return code && !PARLEY_CODES.has(code) && !Object.values(RFC).includes(code);
    });
  console.log(
    `\nattacks (${ATTACK_S} s, all at once, against one gateway; server ${JSON.stringify(SERVER_ENV)})`,
  );
  console.log(
    table(
      tallies.map((t) => ({
        attack: t.attack,
        attempts: t.attempts,
        'server answered': fmt(t.outcomes),
        'error frames': fmt(t.errorCodes),
        expected: t.expect,
        verdict: Object.keys(t.unexpected).length || foreign(t).length ? `FAIL ${fmt(t.unexpected)}` : 'ok',
      })),
    ),
  );
  const slow = tallies.find((t) => t.attack.startsWith('slowloris: upgrade'));
  if (slow?.note) console.log(`slow upgrade requests: last one ${slow.note}`);

  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
  };
  const lost = missing();
  const goodCloses = clients.flatMap((c) => c.closes.filter((x) => x !== 1000 && x !== 1005));
  console.log(
    `\nwell-behaved clients: ${users} users in one group, ${rate} msg/s each, send → message.created at the other ${users - 1}`,
  );
  const base99 = stats(lat.baseline ?? []).p99;
  console.log(
    table(
      stages.map((st) => {
        const l = stats(lat[st.name] ?? []);
        const pr = probe[st.name] ?? { ok: 0, refused: 0, ms: [], outcomes: {} };
        return {
          stage: `${st.name} (${st.secs} s)`,
          deliveries: l.n,
          'p50 ms': l.p50,
          'p99 ms': l.p99,
          'max ms': l.max,
          'p99 / baseline': l.p99 / base99,
          'new sockets ok/refused': `${pr.ok}/${pr.refused}`,
          'connect p99 ms': percentile(
            [...pr.ms].sort((x, y) => x - y),
            99,
          ),
          'server CPU s/s': st.cpu,
          'server loop lag p99/max ms': `${st.lag.p99.toFixed(0)}/${st.lag.max.toFixed(0)}`,
        };
      }),
    ),
  );
  console.log(
    `lost deliveries ${lost}; acks ${acks}; error frames to good clients ${sendErrors} ${JSON.stringify(errorCodes)}; ` +
      `good sockets closed ${goodCloses.length} ${JSON.stringify(goodCloses)}`,
  );
  // Sockets that show a token are never refused by the anonymous pending-auth pool, so a flood of
  // unauthenticated sockets must not keep a signed-in client out.
  const flood = probe['connect flood'];
  if (flood?.refused)
    console.log(
      `during the anonymous connect flood ${flood.refused} of ${flood.ok + flood.refused} new authenticated ` +
        `sockets were refused: ${JSON.stringify(flood.outcomes)}`,
    );
  console.log(
    `server: RSS ${(rss0 / 1024).toFixed(0)} MiB → peak ${(rssPeak / 1024).toFixed(0)} → ${(rss1 / 1024).toFixed(0)} MiB after; ` +
      `/healthz ${healthz}; new socket after the attack: ${after}; ${loadNote()}; ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
  const failures = [
    ...tallies
      .filter((t) => Object.keys(t.unexpected).length || foreign(t).length)
      .map((t) => `attack "${t.attack}"`),
    ...(tallies.length === 0 ? ['attacker did not report'] : []),
    ...(lost > 0 ? [`${lost} deliveries lost`] : []),
    ...(goodCloses.length ? ['good sockets closed'] : []),
    ...(healthz !== 200 ? ['/healthz after attack'] : []),
    ...(after !== 'ready' ? ['new socket after attack'] : []),
    ...(sendErrors > 0 ? ['error frames to good clients'] : []),
    ...(!flood || flood.ok === 0 ? ['no authenticated socket probed during the connect flood'] : []),
    ...(flood?.refused ? ['authenticated sockets refused during the connect flood'] : []),
  ];
  console.log(failures.length ? `\nFAIL: ${failures.join('; ')}` : '\nPASS');
  process.exit(failures.length ? 1 : 0);
}

if (args.role === 'attack') {
  process.once('message', (m: { url: string; tokens: string[] }) => {
    void attacker(m.url, m.tokens, {
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      maxPending: MAX_PENDING,
      pending: PENDING,
      only: args.only,
    }).then((t) => process.send!(t.map(({ ...x }) => x)));
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
