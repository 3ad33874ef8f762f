import {
  contextFrom,
  SpanKind,
  tracer,
  tracingEnabled,
  type Cache,
  type Logger,
  type Span,
} from '@parley/common';
import * as ws from 'ws';
import { conversationChannel, userChannel } from './routing.ts';

const wireSender = (ws as unknown as { Sender: { frame(data: Buffer, o: object): Buffer[] } }).Sender;

const MAX_SOCKET_EVENTS = 128;

/** A text frame serialized and framed once, written as the same bytes to every socket. */
export class Outbound {
  private framed?: Buffer;
  constructor(
    readonly text: string,
    readonly type: string,
  ) {}

  /** RFC 6455 frame bytes (server frames are unmasked, so every socket gets identical bytes). */
  wire(): Buffer {
    if (!this.framed) {
      const parts = wireSender.frame(Buffer.from(this.text), {
        fin: true,
        rsv1: false,
        opcode: 1,
        mask: false,
        readOnly: true,
      });
      this.framed = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    }
    return this.framed;
  }
}

/** What the hub needs of a socket. */
export interface HubSocket {
  readonly id: string;
  readonly userId: string;
  readonly conversations: Set<string>;
  /** Writes one frame unless the socket is closing or too slow; returns whether it was written. */
  deliver(frame: Outbound, meta: DeliveryMeta): boolean;
}

export interface DeliveryMeta {
  conversationId?: string;
  /** message.created: the seq, for de-duplication across a resume boundary. */
  seq?: number;
  /** Presence: the event id, de-duplicated across the conversations it came through. */
  eventId?: string;
}

interface RelayedFrame {
  type?: unknown;
  conversationId?: unknown;
  userId?: unknown;
  eventId?: unknown;
  acceptedAt?: unknown;
  traceparent?: unknown;
  data?: { seq?: unknown; userId?: unknown; change?: unknown };
}

/**
 * One per gateway process: follows a pub/sub channel per conversation that at least one local
 * socket is in (and one per local user), parses each relayed event once, and writes its bytes to
 * the local sockets that may see it. Subscriptions are reference-counted by local sockets.
 */
export class Hub {
  private readonly byConversation = new Map<string, Set<HubSocket>>();
  private readonly byUser = new Map<string, Set<HubSocket>>();
  private readonly subscriptions = new Map<string, Promise<() => Promise<void>>>();

  constructor(
    private readonly cache: Cache,
    private readonly logger: Logger,
    private readonly onDelivered: (type: string, count: number, acceptedAt: number | undefined) => void,
  ) {}

  /** Sockets of a user on this process. */
  socketsOf(userId: string): ReadonlySet<HubSocket> {
    return this.byUser.get(userId) ?? new Set();
  }

  get users(): ReadonlyMap<string, ReadonlySet<HubSocket>> {
    return this.byUser;
  }

  async add(socket: HubSocket): Promise<void> {
    const pending = [this.join(this.byUser, socket.userId, socket, userChannel(socket.userId))];
    for (const c of socket.conversations)
      pending.push(this.join(this.byConversation, c, socket, conversationChannel(c)));
    await Promise.all(pending);
  }

  remove(socket: HubSocket): void {
    this.leave(this.byUser, socket.userId, socket, userChannel(socket.userId));
    for (const c of socket.conversations) this.leave(this.byConversation, c, socket, conversationChannel(c));
  }

  async follow(socket: HubSocket, conversationId: string): Promise<void> {
    if (socket.conversations.has(conversationId)) return;
    socket.conversations.add(conversationId);
    await this.join(this.byConversation, conversationId, socket, conversationChannel(conversationId));
  }

  unfollow(socket: HubSocket, conversationId: string): void {
    if (!socket.conversations.delete(conversationId)) return;
    this.leave(this.byConversation, conversationId, socket, conversationChannel(conversationId));
  }

  private async join(
    index: Map<string, Set<HubSocket>>,
    key: string,
    socket: HubSocket,
    channel: string,
  ): Promise<void> {
    let set = index.get(key);
    if (!set) index.set(key, (set = new Set()));
    set.add(socket);
    let sub = this.subscriptions.get(channel);
    if (!sub) {
      // A fresh handler per subscription: an unsubscribe still in flight removes only its own.
      sub = this.cache.subscribe(channel, (m) => this.onMessage(channel, m));
      this.subscriptions.set(channel, sub);
      sub.catch((err: unknown) => {
        if (this.subscriptions.get(channel) === sub) this.subscriptions.delete(channel);
        this.logger.warn({ err, channel }, 'subscribe failed');
      });
    }
    await sub;
  }

  private leave(index: Map<string, Set<HubSocket>>, key: string, socket: HubSocket, channel: string): void {
    const set = index.get(key);
    if (!set?.delete(socket) || set.size > 0) return;
    index.delete(key);
    const sub = this.subscriptions.get(channel);
    this.subscriptions.delete(channel);
    sub
      ?.then((unsubscribe) => unsubscribe())
      .catch((err: unknown) => this.logger.debug({ err, channel }, 'unsubscribe failed'));
  }

  private onMessage(channel: string, message: string): void {
    let f: RelayedFrame;
    try {
      f = JSON.parse(message) as RelayedFrame;
    } catch {
      this.logger.warn({ channel }, 'dropped a malformed relayed frame');
      return;
    }
    const type = typeof f.type === 'string' ? f.type : 'unknown';
    const out = new Outbound(message, type);
    const conversationId = typeof f.conversationId === 'string' ? f.conversationId : undefined;
    if (channel.startsWith('fan:u:')) return this.onUserFrame(channel.slice(6), f, out, conversationId);
    if (!conversationId) return;
    const sockets = this.byConversation.get(conversationId);
    if (!sockets) return;
    const subject = typeof f.userId === 'string' ? f.userId : undefined;
    const memberId = typeof f.data?.userId === 'string' ? f.data.userId : undefined;
    const meta: DeliveryMeta = {
      conversationId,
      ...(type === 'message.created' && typeof f.data?.seq === 'number' ? { seq: f.data.seq } : {}),
      ...(type === 'presence' && typeof f.eventId === 'string' ? { eventId: f.eventId } : {}),
    };
    const span =
      typeof f.traceparent === 'string' ? this.deliverSpan(type, f.traceparent, conversationId) : undefined;
    let n = 0;
    for (const s of sockets) {
      // Typing and presence are not echoed to their subject; an added member got it on their own channel.
      if ((type === 'typing' || type === 'presence') && s.userId === subject) continue;
      if (type === 'member.added' && s.userId === memberId) continue;
      if (s.deliver(out, meta)) {
        // Which sockets it reached, up to the SDK's default of 128 events a span.
        if (span && n < MAX_SOCKET_EVENTS)
          span.addEvent('socket.write', { 'parley.ws.socket_id': s.id, 'enduser.id': s.userId });
        n++;
      }
    }
    if (span) {
      span.setAttribute('parley.ws.sockets', n);
      span.end();
    }
    if (type === 'member.removed' && memberId)
      for (const s of [...(this.byUser.get(memberId) ?? [])]) this.unfollow(s, conversationId);
    this.onDelivered(type, n, typeof f.acceptedAt === 'number' ? f.acceptedAt : undefined);
  }

  /** A `deliver` span continuing a relayed event's trace on this gateway (undefined when off). */
  private deliverSpan(type: string, traceparent: string, conversationId: string): Span | undefined {
    if (!tracingEnabled()) return undefined;
    const span = tracer().startSpan(
      `deliver ${type}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: { 'parley.conversation.id': conversationId, 'messaging.system': 'redis' },
      },
      contextFrom({ traceparent }),
    );
    return span.isRecording() ? span : undefined;
  }

  /** Frames for one user: a conversation they now belong to starts being followed. */
  private onUserFrame(userId: string, f: RelayedFrame, out: Outbound, conversationId?: string): void {
    const sockets = this.byUser.get(userId);
    if (!sockets || !conversationId) return;
    const joins =
      (f.type === 'conversation.updated' && f.data?.change === 'created') ||
      (f.type === 'member.added' && f.data?.userId === userId);
    let n = 0;
    for (const s of sockets) {
      if (joins)
        this.follow(s, conversationId).catch((err: unknown) =>
          this.logger.warn({ err, conversationId }, 'follow failed'),
        );
      if (s.deliver(out, { conversationId })) n++;
    }
    this.onDelivered(out.type, n, undefined);
  }

  /** Publishes an ephemeral frame (typing, presence) to a conversation's gateways. */
  publish(conversationId: string, frame: Record<string, unknown>): Promise<void> {
    return this.cache.publish(conversationChannel(conversationId), JSON.stringify(frame));
  }
}
