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
import {
  conversationChannel,
  metaOfFrame,
  packRelayed,
  unpackRelayed,
  userChannel,
  type FrameMeta,
} from './routing.ts';

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

/**
 * One per gateway process: follows a pub/sub channel per conversation that at least one local
 * socket is in (and one per local user), routes each relayed frame by the header the relay put
 * before it (never parsing the frame), and writes its bytes to the local sockets that may see it. Subscriptions are reference-counted by local sockets.
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
    const relayed = unpackRelayed(message);
    if (!relayed) {
      this.logger.warn({ channel }, 'dropped a malformed relayed frame');
      return;
    }
    const { meta: m, frame } = relayed;
    const out = new Outbound(frame, m.type);
    if (channel.startsWith('fan:u:')) return this.onUserFrame(channel.slice(6), m, out);
    if (!m.conversationId) return;
    const sockets = this.byConversation.get(m.conversationId);
    if (!sockets) return;
    const meta: DeliveryMeta = {
      conversationId: m.conversationId,
      ...(m.type === 'message.created' && m.seq !== undefined ? { seq: m.seq } : {}),
      ...(m.type === 'presence' && m.eventId ? { eventId: m.eventId } : {}),
    };
    const span = m.traceparent ? this.deliverSpan(m.type, m.traceparent, m.conversationId) : undefined;
    let n = 0;
    for (const s of sockets) {
      // Typing and presence are not echoed to their subject; an added member got it on their own channel.
      if ((m.type === 'typing' || m.type === 'presence') && s.userId === m.subject) continue;
      if (m.type === 'member.added' && s.userId === m.member) continue;
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
    if (m.type === 'member.removed' && m.member)
      for (const s of [...(this.byUser.get(m.member) ?? [])]) this.unfollow(s, m.conversationId);
    this.onDelivered(m.type, n, m.acceptedAt);
  }

  /** A `deliver` span continuing a relayed event's trace on this gateway (undefined when off). */
  private deliverSpan(type: string, traceparent: string, conversationId: string): Span | undefined {
    // Only a sampled trace gets a span (the flags end the traceparent; bit 0 is "sampled").
    if (!tracingEnabled() || !(Number.parseInt(traceparent.slice(-2), 16) & 1)) return undefined;
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
  private onUserFrame(userId: string, m: FrameMeta, out: Outbound): void {
    const sockets = this.byUser.get(userId);
    const conversationId = m.conversationId;
    if (!sockets || !conversationId) return;
    const joins =
      (m.type === 'conversation.updated' && m.change === 'created') ||
      (m.type === 'member.added' && m.member === userId);
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
    return this.cache.publish(
      conversationChannel(conversationId),
      packRelayed(metaOfFrame(frame), JSON.stringify(frame)),
    );
  }
}
