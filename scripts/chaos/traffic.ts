/**
 * Chat traffic through the SDK: users with one `ParleySocket` each (spread over the gateways),
 * group conversations, a steady stream of sends, and a record of every send (acked when, with which
 * id) and of every message each socket showed (`message` events, after the SDK's own de-dup).
 */
import { randomBytes } from 'node:crypto';
import { WebSocket, type ClientOptions } from 'ws';
import { ParleyApiError, ParleyClient, ParleySocket, type WebSocketConstructor } from '@parley/client';
import { httpOk } from './fleet.ts';

/**
 * Chooses the gateway for each new WebSocket, like a Service in front of the api pods: a client's
 * home gateway while it is ready (polled /readyz, and marked down at once when a connect fails),
 * else any ready one.
 */
export class Balancer {
  private readonly down = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly gateways: () => string[],
    /** A gateway's readiness URL (on its management port). */
    private readonly readyUrl: (gateway: string) => string,
    /** Options for every WebSocket (e.g. a DNS lookup that sends an ingress host to its node). */
    private readonly wsOptions: ClientOptions = {},
  ) {}

  start(intervalMs = 300): void {
    const poll = async () => {
      await Promise.all(
        this.gateways().map(async (g) => {
          if (await httpOk(this.readyUrl(g), 800)) this.down.delete(g);
          else if (!this.down.has(g)) this.down.set(g, Date.now());
        }),
      );
      this.timer = setTimeout(() => void poll(), intervalMs);
    };
    void poll();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  markDown(base: string): void {
    if (!this.down.has(base)) this.down.set(base, Date.now());
  }

  pick(home: number): string {
    const all = this.gateways();
    const mine = all[home % all.length]!;
    if (!this.down.has(mine)) return mine;
    return all.find((g) => !this.down.has(g)) ?? mine;
  }

  /** A WebSocket class for one client: ignores the URL it is given and connects where pick() says. */
  socketClass(home: number): WebSocketConstructor {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const lb = this;
    return class extends WebSocket {
      constructor(_url: string, protocols?: string | string[]) {
        const base = lb.pick(home);
        super(base.replace(/^http/, 'ws') + '/v1/ws', protocols, lb.wsOptions);
        this.once('error', () => lb.markDown(base));
      }
    } as unknown as WebSocketConstructor;
  }
}

export interface User {
  index: number;
  username: string;
  userId: string;
  client: ParleyClient;
  /** The current session (reopen() replaces it). */
  socket: ParleySocket;
  /** Conversations this user is in. */
  convs: string[];
}

export interface SendRecord {
  clientMsgId: string;
  conv: string;
  sender: number;
  sentAt: number;
  ackedAt?: number;
  messageId?: string;
  failed?: string;
}

export interface Delivery {
  /** user index → times the SDK showed this message to that user. */
  count: Map<number, number>;
  /** user index → first time it was shown. */
  at: Map<number, number>;
}

export interface TrafficOptions {
  /** Users, each with one SDK session; their home gateway alternates. */
  users: number;
  conversations: number;
  membersPerConversation: number;
  /** Sends per second over all users. */
  rate: number;
}

/**
 * Retries a REST call answered 503 for up to 30 s: a just-started api can report ready on /readyz
 * while its routes still answer "message service is starting".
 */
async function retryUnavailable<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ParleyApiError && err.status === 503) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** A seeded PRNG (mulberry32), so a run's shape can be repeated. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Traffic {
  readonly users: User[] = [];
  readonly members = new Map<string, number[]>();
  readonly sends: SendRecord[] = [];
  readonly deliveries = new Map<string, Delivery>();
  /** Socket state changes (reconnects) per user. */
  readonly reconnects: number[] = [];
  private readonly random: () => number;
  /** Error frames the sockets got, by code ("<code> (no id)" when they named no frame). */
  readonly errorFrames = new Map<string, number>();
  /** Sessions closed and reopened by reopen(). */
  reopened = 0;
  private ticker: NodeJS.Timeout | undefined;
  private n = 0;
  private readonly runTag = randomBytes(3).toString('hex');

  constructor(
    private readonly opts: TrafficOptions,
    private readonly authUrl: string,
    private readonly lb: Balancer,
    seed = 42,
  ) {
    this.random = prng(seed);
  }

  /** REST through one address, like an ingress: /v1/auth/* to the auth service, the rest to a gateway. */
  private routedFetch(home: number): typeof fetch {
    return (input, init) => {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input : input.url);
      const base = url.pathname.startsWith('/v1/auth/') ? this.authUrl : this.lb.pick(home);
      return fetch(base + url.pathname + url.search, init);
    };
  }

  /** Registers the users, creates the conversations and connects every socket. */
  async setup(): Promise<void> {
    const { users, conversations, membersPerConversation } = this.opts;
    for (let i = 0; i < users; i++) {
      const client = new ParleyClient({ baseUrl: 'http://parley.invalid', fetch: this.routedFetch(i) });
      const username = `chaos_${this.runTag}_${i}`;
      const r = await client.register({ username, password: 'a long and unusual passphrase' });
      const socket = this.newSocket({ index: i, client });
      this.users.push({ index: i, username, userId: r.user.id, client, socket, convs: [] });
      this.reconnects.push(0);
    }
    for (let c = 0; c < conversations; c++) {
      // Members: a window over the users, so every user is in about the same number of chats.
      const idx = Array.from({ length: membersPerConversation }, (_, k) => (c * 3 + k) % users);
      const unique = [...new Set(idx)];
      const owner = this.users[unique[0]!]!;
      const conv = await retryUnavailable(() =>
        owner.client.createConversation({
          type: 'group',
          title: `chaos ${c}`,
          members: unique.slice(1).map((u) => this.users[u]!.username),
        }),
      );
      this.members.set(conv.id, unique);
      for (const u of unique) this.users[u]!.convs.push(conv.id);
    }
    for (const u of this.users) {
      this.wire(u);
      // Nothing has been sent yet: every conversation resumes from 0 after a reconnect.
      for (const conv of u.convs) u.socket.setCursor(conv, 0);
    }
    await Promise.all(this.users.map((u) => u.socket.connect()));
  }

  private newSocket(u: { index: number; client: ParleyClient }): ParleySocket {
    return new ParleySocket({
      client: u.client,
      WebSocket: this.lb.socketClass(u.index),
      url: 'ws://parley.invalid/v1/ws',
      backoff: { baseMs: 250, maxMs: 5_000 },
    });
  }

  private wire(u: User): void {
    const socket = u.socket;
    socket.on('message', (m) => {
      if (u.socket !== socket) return;
      let d = this.deliveries.get(m.id);
      if (!d) this.deliveries.set(m.id, (d = { count: new Map(), at: new Map() }));
      d.count.set(u.index, (d.count.get(u.index) ?? 0) + 1);
      if (!d.at.has(u.index)) d.at.set(u.index, Date.now());
    });
    socket.on('state', (st) => {
      if (st === 'waiting') this.reconnects[u.index]!++;
    });
    socket.on('error', (f: unknown) => {
      const code = (f as { code?: string; id?: string }).code ?? 'socket';
      const key = (f as { id?: string }).id ? code : `${code} (no id)`;
      this.errorFrames.set(key, (this.errorFrames.get(key) ?? 0) + 1);
    });
  }

  /**
   * Connection churn: the user's session closes (1000) and a new one opens, resuming from what the
   * old one held, as an app does when it goes to the background and back. Skipped while the user
   * has unacknowledged sends (closing would fail them).
   */
  async reopen(index: number): Promise<boolean> {
    const u = this.users[index]!;
    const old = u.socket;
    if (old.outboxSize > 0 || old.state !== 'open') return false;
    const cursors = u.convs.map((c) => [c, old.cursor(c)] as const);
    old.close();
    u.socket = this.newSocket(u);
    this.wire(u);
    for (const [c, seq] of cursors) u.socket.setCursor(c, seq ?? 0);
    await u.socket.connect();
    this.reopened++;
    return true;
  }

  /** Starts sending `rate` messages per second from random members into their conversations. */
  start(): void {
    const tickMs = 50;
    let due = 0;
    let last = performance.now();
    this.ticker = setInterval(() => {
      const now = performance.now();
      due += ((now - last) / 1000) * this.opts.rate;
      last = now;
      while (due >= 1) {
        due--;
        this.sendOne();
      }
    }, tickMs);
  }

  stop(): void {
    clearInterval(this.ticker);
  }

  private sendOne(): void {
    const u = this.users[Math.floor(this.random() * this.users.length)]!;
    if (u.convs.length === 0) return;
    const conv = u.convs[Math.floor(this.random() * u.convs.length)]!;
    const rec: SendRecord = {
      clientMsgId: `${this.runTag}-${++this.n}`,
      conv,
      sender: u.index,
      sentAt: Date.now(),
    };
    this.sends.push(rec);
    u.socket
      .send(conv, { clientMsgId: rec.clientMsgId, body: `chaos ${this.n}` })
      .then((ack) => {
        rec.ackedAt = Date.now();
        rec.messageId = ack.messageId;
      })
      .catch((err: Error) => {
        rec.failed = err.message;
      });
  }

  /** Sends not yet acknowledged (still in an SDK outbox, not failed). */
  pending(): number {
    return this.sends.filter((s) => s.ackedAt === undefined && s.failed === undefined).length;
  }

  /** Send until the SDK showed the message to its last member (undefined while incomplete). */
  e2e(s: SendRecord): number | undefined {
    const d = s.messageId ? this.deliveries.get(s.messageId) : undefined;
    const members = this.members.get(s.conv)!;
    if (!d || members.some((u) => !d.at.has(u))) return undefined;
    return Math.max(...members.map((u) => d.at.get(u)!)) - s.sentAt;
  }

  /** Missing (message, member) pairs among the acked sends. */
  missingDeliveries(): number {
    let missing = 0;
    for (const s of this.sends) {
      if (!s.messageId) continue;
      const d = this.deliveries.get(s.messageId);
      for (const u of this.members.get(s.conv)!) if (!d?.count.has(u)) missing++;
    }
    return missing;
  }

  close(): void {
    this.stop();
    for (const u of this.users) u.socket.close();
  }
}
