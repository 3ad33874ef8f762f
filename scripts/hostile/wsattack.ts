/**
 * The attacker side of the WebSocket fuzzer (scripts/hostile/wsfuzz.ts runs it in a child process):
 * every kind of bad input, each attack tallied against the answer or close code it must get.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { CloseCodes } from '../../services/message/src/gateway/protocol.ts';

export const RFC = { PROTOCOL: 1002, INVALID_DATA: 1007, TOO_BIG: 1009, ABNORMAL: 1006 };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let addr = 0;
const localAddress = () => `127.0.0.${2 + (addr++ % 249)}`;

// ───────────────────────────── attacker (child process) ─────────────────────────────

export interface Tally {
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

export async function attacker(
  url: string,
  tokens: string[],
  opts: { headersTimeoutMs: number; maxPending: number; pending: number; only?: string },
): Promise<Tally[]> {
  const { headersTimeoutMs: HEADERS_TIMEOUT_MS, maxPending: MAX_PENDING, pending: PENDING } = opts;
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
  const only = opts.only?.split(',') ?? Object.keys(tasks);
  return Promise.all(
    Object.entries(tasks)
      .filter(([k]) => only.includes(k))
      .map(([, run]) => run()),
  );
}

// ───────────────────────────── orchestrator and good clients ─────────────────────────────
