/**
 * Idle WebSocket load generator, run as a child process of ws-idle.ts (forked, with IPC). It opens
 * sockets on request and holds them without sending anything; the `ws` client answers pings.
 * Source addresses are spread over 127.0.0.2-127.0.0.(1 + sources) so that one destination port
 * does not exhaust the ephemeral ports of one address.
 *
 * Parent → child: { cmd: 'open', url, protocols: string[][], count, concurrency, sources }
 *   (socket i uses protocols[i % protocols.length]; each waits for the server's first frame)
 * Child → parent: { type: 'opened', open, failed, lost, errors, seconds }; on { cmd: 'exit' } it
 *   terminates every socket and exits.
 */
import WebSocket from 'ws';

interface OpenCmd {
  cmd: 'open';
  url: string;
  protocols: string[][];
  count: number;
  concurrency: number;
  sources: number;
}

const sockets: WebSocket[] = [];
let next = 0;
let lost = 0;
const errors = new Map<string, number>();
const note = (e: string) => errors.set(e, (errors.get(e) ?? 0) + 1);

function openOne(c: OpenCmd, i: number): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(c.url, c.protocols[i % c.protocols.length], {
      localAddress: `127.0.0.${2 + (i % c.sources)}`,
      perMessageDeflate: false,
      handshakeTimeout: 30_000,
    });
    let settled = false;
    const done = (ok: boolean, why?: string) => {
      if (settled) return;
      settled = true;
      if (!ok) {
        note(why ?? 'failed');
        ws.terminate();
      }
      resolve(ok);
    };
    ws.once('message', () => {
      sockets.push(ws);
      done(true);
      // After the first frame: count sockets the server closes while they should be idle.
      ws.once('close', (code) => {
        lost++;
        note(`closed ${code} after ready`);
      });
    });
    ws.once('unexpected-response', (_req, res) => done(false, `HTTP ${res.statusCode}`));
    ws.once('close', (code) => done(false, `closed ${code} before ready`));
    ws.on('error', (err: NodeJS.ErrnoException) => done(false, err.code ?? err.message));
  });
}

async function open(c: OpenCmd): Promise<void> {
  const started = performance.now();
  const end = next + c.count;
  let failed = 0;
  await Promise.all(
    Array.from({ length: Math.min(c.concurrency, c.count) }, async () => {
      while (next < end) {
        const i = next++;
        if (!(await openOne(c, i))) failed++;
      }
    }),
  );
  process.send!({
    type: 'opened',
    open: sockets.length - lost,
    failed,
    lost,
    errors: Object.fromEntries(errors),
    seconds: (performance.now() - started) / 1000,
  });
}

process.on('message', (m: OpenCmd | { cmd: 'exit' }) => {
  if (m.cmd === 'open') void open(m);
  else {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
