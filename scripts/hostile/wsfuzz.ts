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
import { randomBytes, randomUUID } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { CloseCodes } from '../../services/message/src/gateway/protocol.ts';
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

const RFC = { PROTOCOL: 1002, INVALID_DATA: 1007, TOO_BIG: 1009, ABNORMAL: 1006 };
const PARLEY_CODES = new Set<number>(Object.values(CloseCodes).map((c) => c.code));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let addr = 0;
const localAddress = () => `127.0.0.${2 + (addr++ % 249)}`;

// ───────────────────────────── attacker (child process) ─────────────────────────────

interface Tally {
  attack: string;
  expect: string;
  attempts: number;
  outcomes: Record<string, number>;
  /** Outcomes the protocol does not allow for this attack. */
  unexpected: Record<string, number>;
  errorCodes: Record<string, number>;
  note?: string;
}

function tally(attack: string, expect: string, allowed: string[]): Tally & { ok: (o: string) => void } {
  const t: Tally = { attack, expect, attempts: 0, outcomes: {}, unexpected: {}, errorCodes: {} };
  return Object.assign(t, {
    ok(o: string) {
      t.outcomes[o] = (t.outcomes[o] ?? 0) + 1;
      if (!allowed.includes(o)) t.unexpected[o] = (t.unexpected[o] ?? 0) + 1;
    },
  });
}

/**
 * Records the first outcome of one attempt in `t` (or "still open" at the deadline), then runs
 * `cleanup` and resolves `done`.
 */
function attempt(t: ReturnType<typeof tally>, timeoutMs: number, cleanup: () => void) {
  t.attempts++;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  let settled = false;
  const finish = (o: string) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    t.ok(o);
    cleanup();
    resolve();
  };
  const timer = setTimeout(() => finish('still open'), timeoutMs);
  return { finish, done };
}

/** One ws-client attack: open, run `act`, and record how the server ended it. */
function wsAttempt(
  url: string,
  protocols: string[],
  t: ReturnType<typeof tally>,
  act: (ws: WebSocket) => void,
  timeoutMs = 15_000,
): Promise<void> {
  const ws = new WebSocket(url, protocols, { localAddress: localAddress(), perMessageDeflate: false });
  const { finish, done } = attempt(t, timeoutMs, () => ws.terminate());
  ws.on('unexpected-response', (_req, res) => finish(`HTTP ${res.statusCode}`));
  ws.on('error', () => undefined);
  ws.on('message', (d) => {
    try {
      const f = JSON.parse(d.toString()) as { type: string; code?: string };
      if (f.type === 'error') t.errorCodes[f.code!] = (t.errorCodes[f.code!] ?? 0) + 1;
    } catch {
      t.errorCodes['(not json)'] = (t.errorCodes['(not json)'] ?? 0) + 1;
    }
  });
  ws.on('close', (code) => finish(`close ${code}`));
  ws.on('open', () => {
    try {
      act(ws);
    } catch {
      /* the socket closed under us: the close event records it */
    }
  });
  return done;
}

/** A raw TCP client: HTTP upgrade by hand, then arbitrary bytes (the ws client refuses to send them). */
function rawAttempt(
  host: string,
  port: number,
  headers: string,
  t: ReturnType<typeof tally>,
  afterUpgrade: (s: Socket) => void,
  timeoutMs = 15_000,
): Promise<void> {
  const s = tcpConnect({ host, port, localAddress: localAddress() });
  const { finish, done } = attempt(t, timeoutMs, () => s.destroy());
  let buf = Buffer.alloc(0);
  let upgraded = false;
  s.on('error', () => finish('reset'));
  s.on('close', () => finish(upgraded ? 'TCP closed, no close frame' : 'TCP closed before upgrade'));
  s.on('connect', () =>
    s.write(
      `GET /v1/ws HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`,
    ),
  );
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    if (!upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = /^HTTP\/1\.1 (\d+)/.exec(buf.toString('latin1', 0, 20))?.[1];
      if (status !== '101') return finish(`HTTP ${status}`);
      upgraded = true;
      buf = buf.subarray(end + 4);
      afterUpgrade(s);
    }
    // Server frames are unmasked; a close frame (opcode 8) carries the code in its first 2 bytes.
    while (buf.length >= 2) {
      const len = buf[1]! & 0x7f;
      const head = len === 126 ? 4 : len === 127 ? 10 : 2;
      const size = len === 126 ? buf.readUInt16BE(2) : len === 127 ? Number(buf.readBigUInt64BE(2)) : len;
      if (buf.length < head + size) return;
      if ((buf[0]! & 0x0f) === 8) return finish(`close ${size >= 2 ? buf.readUInt16BE(head) : 1005}`);
      buf = buf.subarray(head + size);
    }
  });
  return done;
}

/** A masked client frame with the given first byte (FIN/RSV/opcode) and payload. */
function clientFrame(first: number, payload: Buffer, declaredLength?: bigint): Buffer {
  const mask = randomBytes(4);
  const n = declaredLength ?? BigInt(payload.length);
  const head =
    n < 126n
      ? Buffer.from([first, 0x80 | Number(n)])
      : n < 65536n
        ? Buffer.from([first, 0x80 | 126, Number(n) >> 8, Number(n) & 0xff])
        : Buffer.concat([Buffer.from([first, 0x80 | 127]), Buffer.alloc(8)]);
  if (n >= 65536n) head.writeBigUInt64BE(n, 2);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([head, mask, body]);
}

/** Payloads that are text but not valid frames of the protocol. */
function malformed(i: number): string {
  const id = randomUUID();
  const cases = [
    'not json at all',
    '[1,2,3]',
    'null',
    '{"type":42}',
    '{"type":"launch.missiles"}',
    `{"type":"send","conversationId":"${id}"}`,
    `{"type":"send","conversationId":"not-a-uuid","clientMsgId":"x","body":"hi"}`,
    `{"type":"resume","cursors":{"${id}":-1}}`,
    `{"type":"read","conversationId":"${id}","seq":1e400}`,
    '{"type":"ping","id":"' + 'x'.repeat(500) + '"}',
    '{"__proto__":{"type":"ping"},"constructor":{"prototype":{"polluted":true}}}',
    '['.repeat(30_000) + ']'.repeat(30_000), // deep nesting, under the frame limit
    '{"type":"typing","conversationId":"' + id + '","state":"started","extra":' + '"x",'.repeat(2) + '"y"}',
    '\u0000\u0001\u0002',
    '{"type":"auth","token":"' + 'a'.repeat(9000) + '"}',
  ];
  return cases[i % cases.length]!;
}

function randomText(): string {
  const n = 1 + Math.floor(Math.random() * 2000);
  let s = '';
  for (let i = 0; i < n; i++) {
    const cp = Math.floor(Math.random() * 0x10ffff);
    s += cp >= 0xd800 && cp <= 0xdfff ? '?' : String.fromCodePoint(cp);
  }
  return s;
}

async function attacker(url: string, tokens: string[]): Promise<Tally[]> {
  const wsBase = url.replace('http', 'ws') + '/v1/ws';
  const { hostname: host, port: portText } = new URL(url);
  const port = Number(portText);
  let stop = false;
  process.on('message', (m: { stop?: boolean }) => {
    if (m.stop) stop = true;
  });
  let tok = 0;
  const bearer = () => ['parley.v1', `parley.bearer.${tokens[tok++ % tokens.length]}`];
  const bearerHeader = () =>
    `Sec-WebSocket-Protocol: parley.v1, parley.bearer.${tokens[tok++ % tokens.length]}\r\n`;
  const c = (name: keyof typeof CloseCodes) => `close ${CloseCodes[name].code}`;

  const loop = async (t: Tally, fn: () => Promise<void>, parallel = 1) => {
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        while (!stop) await fn();
      }),
    );
    return t;
  };
  const T = {
    malformed: tally('malformed JSON frames (35 per socket)', `errors, then ${c('PROTOCOL_ERROR')}`, [
      c('PROTOCOL_ERROR'),
    ]),
    random: tally('random Unicode text frames', `errors, then ${c('PROTOCOL_ERROR')}`, [c('PROTOCOL_ERROR')]),
    binary: tally('binary frames (25 per socket)', `MALFORMED_FRAME, then ${c('PROTOCOL_ERROR')}`, [
      c('PROTOCOL_ERROR'),
    ]),
    huge: tally('1 MiB text frame (limit 128 KiB)', c('MESSAGE_TOO_BIG'), [c('MESSAGE_TOO_BIG')]),
    hugeAnon: tally('1 MiB frame before auth', c('MESSAGE_TOO_BIG'), [c('MESSAGE_TOO_BIG')]),
    declared: tally('frame header declaring 2^53 bytes', c('MESSAGE_TOO_BIG'), [c('MESSAGE_TOO_BIG')]),
    badUtf8: tally('text frame with invalid UTF-8', `close ${RFC.INVALID_DATA} (RFC 6455, from ws)`, [
      `close ${RFC.INVALID_DATA}`,
    ]),
    rsv: tally('RSV1 set, reserved opcode, unmasked frame', `close ${RFC.PROTOCOL} (RFC 6455, from ws)`, [
      `close ${RFC.PROTOCOL}`,
    ]),
    deep: tally(
      'frame nested 6,000 arrays deep, before auth (crashed the process before #15)',
      `MALFORMED_FRAME, then ${c('PROTOCOL_ERROR')}`,
      [c('PROTOCOL_ERROR')],
    ),
    deepAuthed: tally(
      'frame nested 20,000 objects deep (120 KB)',
      `MALFORMED_FRAME, then ${c('PROTOCOL_ERROR')}`,
      [c('PROTOCOL_ERROR')],
    ),
    keys: tally('frame with 10,000 keys', `MALFORMED_FRAME, then ${c('PROTOCOL_ERROR')}`, [
      c('PROTOCOL_ERROR'),
    ]),
    flood: tally('ping flood (2,000 frames at once)', `RATE_LIMITED, then ${c('RATE_LIMITED')}`, [
      c('RATE_LIMITED'),
    ]),
    slowFrame: tally(
      'slowloris: 1 byte of a frame header, then silence (authenticated)',
      'dropped after a missed heartbeat (no close frame)',
      ['TCP closed, no close frame'],
    ),
    slowAnon: tally(
      'slowloris: partial frame before auth',
      `${c('UNAUTHENTICATED')} after WS_AUTH_TIMEOUT_MS`,
      [c('UNAUTHENTICATED')],
    ),
    slowHttp: tally(
      'slowloris: upgrade request headers 1 line / 2 s',
      `cut by the HTTP server after HTTP_HEADERS_TIMEOUT_MS (${HEADERS_TIMEOUT_MS} ms)`,
      // "still open" only for attempts younger than the timeout (plus its 1 s check) when the run ends.
      ['TCP closed before upgrade', 'HTTP 408', 'HTTP 400', 'still open'],
    ),
    pending: tally(
      `${PENDING} unauthenticated sockets held (WS_MAX_PENDING_AUTH ${MAX_PENDING})`,
      `${c('UNAUTHENTICATED')} after the timeout; 503 beyond the limit`,
      [c('UNAUTHENTICATED'), 'HTTP 503', 'still open'],
    ),
  };

  const tasks: Record<keyof typeof T, () => Promise<Tally>> = {
    malformed: () =>
      loop(T.malformed, () =>
        wsAttempt(wsBase, bearer(), T.malformed, (ws) => {
          // Every malformed kind once (some are well-formed frames with a bad field, which reset
          // the invalid-frame count), then 20 invalid in a row, which must close the socket.
          for (let i = 0; i < 15; i++) ws.send(malformed(i));
          for (let i = 0; i < 20; i++) ws.send(malformed(Math.floor(Math.random() * 7)));
        }),
      ),
    random: () =>
      loop(T.random, () =>
        wsAttempt(wsBase, bearer(), T.random, (ws) => {
          for (let i = 0; i < 25; i++) ws.send(randomText());
        }),
      ),
    binary: () =>
      loop(T.binary, () =>
        wsAttempt(wsBase, bearer(), T.binary, (ws) => {
          for (let i = 0; i < 25; i++) ws.send(randomBytes(64 + i * 100), { binary: true });
        }),
      ),
    huge: () => loop(T.huge, () => wsAttempt(wsBase, bearer(), T.huge, (ws) => ws.send('x'.repeat(1 << 20)))),
    hugeAnon: () =>
      loop(T.hugeAnon, () =>
        wsAttempt(wsBase, ['parley.v1'], T.hugeAnon, (ws) => ws.send('y'.repeat(1 << 20))),
      ),
    declared: () =>
      loop(T.declared, () =>
        rawAttempt(host, port, bearerHeader(), T.declared, (s) =>
          s.write(clientFrame(0x81, Buffer.from('{"type":"ping"}'), 1n << 53n)),
        ),
      ),
    badUtf8: () =>
      loop(T.badUtf8, () =>
        rawAttempt(host, port, bearerHeader(), T.badUtf8, (s) =>
          s.write(clientFrame(0x81, Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0xfe, 0x7d]))),
        ),
      ),
    rsv: () =>
      loop(T.rsv, async () => {
        const variant = T.rsv.attempts % 3;
        await rawAttempt(host, port, bearerHeader(), T.rsv, (s) => {
          const p = Buffer.from('{"type":"ping"}');
          if (variant === 0)
            s.write(clientFrame(0xc1, p)); // RSV1 without a negotiated extension
          else if (variant === 1)
            s.write(clientFrame(0x83, p)); // reserved opcode 3
          else s.write(Buffer.concat([Buffer.from([0x81, p.length]), p])); // unmasked client frame
        });
      }),
    deep: () =>
      loop(T.deep, () =>
        wsAttempt(wsBase, ['parley.v1'], T.deep, (ws) =>
          ws.send(`{"type":"auth","token":"x","y":${'['.repeat(6000)}${']'.repeat(6000)}}`),
        ),
      ),
    deepAuthed: () =>
      loop(T.deepAuthed, () =>
        wsAttempt(wsBase, bearer(), T.deepAuthed, (ws) =>
          ws.send(`{"type":"ping","y":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`),
        ),
      ),
    keys: () =>
      loop(T.keys, () =>
        wsAttempt(wsBase, bearer(), T.keys, (ws) =>
          ws.send(`{"type":"ping",${Array.from({ length: 10_000 }, (_, i) => `"k${i}":0`).join(',')}}`),
        ),
      ),
    flood: () =>
      loop(T.flood, () =>
        wsAttempt(wsBase, bearer(), T.flood, (ws) => {
          for (let i = 0; i < 2000; i++) ws.send('{"type":"ping"}');
        }),
      ),
    slowFrame: () =>
      loop(
        T.slowFrame,
        () =>
          rawAttempt(host, port, bearerHeader(), T.slowFrame, (s) => s.write(Buffer.from([0x81])), 20_000),
        20,
      ),
    slowAnon: () =>
      loop(
        T.slowAnon,
        () =>
          rawAttempt(host, port, 'Sec-WebSocket-Protocol: parley.v1\r\n', T.slowAnon, (s) =>
            s.write(Buffer.from([0x81, 0xfe])),
          ),
        20,
      ),
    slowHttp: () =>
      loop(
        T.slowHttp,
        () =>
          new Promise<void>((resolve) => {
            T.slowHttp.attempts++;
            const s = tcpConnect({ host, port, localAddress: localAddress() });
            let lines = 0;
            const started = Date.now();
            const iv = setInterval(() => {
              if (stop)
                return end(
                  Date.now() - started > HEADERS_TIMEOUT_MS + 2000
                    ? 'still open past the headers timeout'
                    : 'still open',
                );
              s.write(`X-Slow-${lines++}: ${'a'.repeat(10)}\r\n`);
            }, 2000);
            let ended = false;
            const end = (o: string) => {
              if (ended) return;
              ended = true;
              clearInterval(iv);
              if (!s.destroyed) s.destroy();
              T.slowHttp.ok(o);
              T.slowHttp.note = `${o} after ${((Date.now() - started) / 1000).toFixed(0)} s`;
              resolve();
            };
            s.on('connect', () => s.write(`GET /v1/ws HTTP/1.1\r\nHost: ${host}\r\n`));
            s.on('data', (d: Buffer) => end(`HTTP ${/^HTTP\/1\.1 (\d+)/.exec(d.toString('latin1'))?.[1]}`));
            s.on('error', () => end('TCP closed before upgrade'));
            s.on('close', () => end('TCP closed before upgrade'));
          }),
        50,
      ),
    // Hold PENDING unauthenticated sockets, re-opening each as the server closes it.
    pending: () =>
      loop(
        T.pending,
        () =>
          rawAttempt(
            host,
            port,
            'Sec-WebSocket-Protocol: parley.v1\r\n',
            T.pending,
            () => undefined,
            60_000,
          ).then(() => sleep(50)),
        PENDING,
      ),
  };
  const only = args.only?.split(',') ?? Object.keys(tasks);
  return Promise.all(
    Object.entries(tasks)
      .filter(([k]) => only.includes(k))
      .map(([, run]) => run()),
  );
}

// ───────────────────────────── orchestrator and good clients ─────────────────────────────

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
    void attacker(m.url, m.tokens).then((t) => process.send!(t.map(({ ...x }) => x)));
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
