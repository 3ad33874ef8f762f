import { waitFor } from '../retry.ts';
import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { type: string };

/** A raw protocol-level test client: records every frame and the close code. */
export class TestSocket {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  readonly ws: WebSocket;
  private readonly opened: Promise<void>;

  constructor(url: string, protocols: string[] = ['parley.v1'], opts: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, protocols, opts);
    this.ws.on('message', (d) => {
      try {
        this.frames.push(JSON.parse(d.toString()) as Frame);
      } catch {
        this.frames.push({ type: '(not json)', raw: d.toString() });
      }
    });
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.ws.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.ws.once('close', () => reject(new Error('closed before open')));
    });
    this.opened.catch(() => undefined);
  }

  static async bearer(base: string, token: string): Promise<TestSocket> {
    const s = new TestSocket(wsUrl(base), ['parley.v1', `parley.bearer.${token}`]);
    await s.next('ready');
    return s;
  }

  open(): Promise<void> {
    return this.opened;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** The first frame (after `from`) matching type and fields. */
  async next(type: string, match: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<Frame> {
    let found: Frame | undefined;
    await waitFor(
      () =>
        (found = this.frames.find(
          (f) => f.type === type && Object.entries(match).every(([k, v]) => f[k] === v),
        )) !== undefined,
      { timeoutMs, what: `${type} frame ${JSON.stringify(match)}` },
    );
    return found!;
  }

  async closedWith(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    await waitFor(() => this.closed !== undefined, { timeoutMs, what: 'socket close' });
    return this.closed!;
  }

  close(): void {
    this.ws.close();
  }
}

export const wsUrl = (base: string) => base.replace(/^http/, 'ws').replace(/\/$/, '') + '/v1/ws';
