import type { ChatEvent } from '../domain/envelopes.ts';

/**
 * Fan-out routing, pure. Events travel per conversation: one SPUBLISH per event, whatever the
 * room's size, and each gateway fans out locally to the sockets it holds for that conversation
 * (scripts/bench/fanout-routing.ts measured this against per-user channels: README, "Fan-out").
 * Per-user channels carry only what a user's sockets need before they follow a conversation:
 * its creation and their own addition.
 */
export const conversationChannel = (conversationId: string) => `fan:c:${conversationId}`;
export const userChannel = (userId: string) => `fan:u:${userId}`;

/**
 * The frame a client receives for a chat event: the envelope without its recipient list. A traced
 * event carries its W3C `traceparent` (the gateways continue the trace from it) and its `traceId`.
 */
export function eventFrame(ev: ChatEvent, traceparent = ''): string {
  return JSON.stringify({
    type: ev.type,
    eventId: ev.id,
    conversationId: ev.conversationId,
    occurredAt: ev.occurredAt,
    ...(ev.acceptedAt !== undefined ? { acceptedAt: ev.acceptedAt } : {}),
    ...(ev.pos !== undefined ? { pos: ev.pos } : {}),
    ...(traceparent ? { traceId: traceparent.slice(3, 35), traceparent } : {}),
    data: ev.data,
  });
}

export interface Publication {
  channel: string;
  message: string;
}

/**
 * What a gateway needs to route a relayed frame to its sockets. It travels in a header line before
 * the frame, so a gateway writes the frame's bytes without parsing them.
 */
export interface FrameMeta {
  type: string;
  conversationId?: string | undefined;
  /** Typing and presence: whose they are (not echoed to that user). */
  subject?: string | undefined;
  /** member.added/removed: the member; conversation.updated: the change. */
  member?: string | undefined;
  change?: string | undefined;
  /** message.created: the seq (resume de-duplication). */
  seq?: number | undefined;
  /** Presence: the event id (de-duplicated across conversations). */
  eventId?: string | undefined;
  acceptedAt?: number | undefined;
  traceparent?: string | undefined;
}

const META_FIELDS = [
  'type',
  'conversationId',
  'subject',
  'member',
  'change',
  'seq',
  'eventId',
  'acceptedAt',
  'traceparent',
] as const;
/** The header's version tag; a message without it is a bare JSON frame (older gateways' format). */
const HEADER = 'p1';
const clean = (v: unknown) => (v === undefined ? '' : String(v).replace(/[\t\n]/g, ''));

/** `p1\t<fields…>\n<frame>`: tab-separated fields in META_FIELDS order, then the frame as sent. */
export function packRelayed(meta: FrameMeta, frame: string): string {
  return `${HEADER}\t${META_FIELDS.map((f) => clean(meta[f])).join('\t')}\n${frame}`;
}

/** The meta and frame of a relayed message; a bare JSON frame (no header) is parsed for its meta. */
export function unpackRelayed(message: string): { meta: FrameMeta; frame: string } | null {
  const nl = message.indexOf('\n');
  if (message.startsWith(`${HEADER}\t`) && nl > 0) {
    const v = message.slice(HEADER.length + 1, nl).split('\t');
    if (v.length !== META_FIELDS.length || !v[0]) return null;
    const num = (x: string) => (x === '' ? undefined : Number(x));
    const str = (x: string) => (x === '' ? undefined : x);
    return {
      meta: {
        type: v[0],
        conversationId: str(v[1]!),
        subject: str(v[2]!),
        member: str(v[3]!),
        change: str(v[4]!),
        seq: num(v[5]!),
        eventId: str(v[6]!),
        acceptedAt: num(v[7]!),
        traceparent: str(v[8]!),
      },
      frame: message.slice(nl + 1),
    };
  }
  let f: Record<string, unknown>;
  try {
    f = JSON.parse(message) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof f !== 'object' || f === null || typeof f.type !== 'string') return null;
  return { meta: metaOfFrame(f), frame: message };
}

/** The meta of a frame object (typing and presence, which the gateways publish themselves). */
export function metaOfFrame(f: Record<string, unknown>): FrameMeta {
  const data = (typeof f.data === 'object' && f.data !== null ? f.data : {}) as Record<string, unknown>;
  const s = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const n = (v: unknown) => (typeof v === 'number' ? v : undefined);
  return {
    type: String(f.type),
    conversationId: s(f.conversationId),
    subject: s(f.userId),
    member: s(data.userId),
    change: s(data.change),
    seq: n(data.seq),
    eventId: s(f.eventId),
    acceptedAt: n(f.acceptedAt),
    traceparent: s(f.traceparent),
  };
}

export function route(ev: ChatEvent, traceparent = ''): Publication[] {
  const message = packRelayed(
    {
      type: ev.type,
      conversationId: ev.conversationId,
      member: typeof ev.data.userId === 'string' ? ev.data.userId : undefined,
      change: typeof ev.data.change === 'string' ? ev.data.change : undefined,
      seq: typeof ev.data.seq === 'number' ? ev.data.seq : undefined,
      eventId: ev.id,
      acceptedAt: ev.acceptedAt,
      traceparent: traceparent || undefined,
    },
    eventFrame(ev, traceparent),
  );
  if (ev.type === 'conversation.updated' && ev.data.change === 'created')
    return ev.recipients.map((u) => ({ channel: userChannel(u), message }));
  const out = [{ channel: conversationChannel(ev.conversationId), message }];
  if (ev.type === 'member.added' && typeof ev.data.userId === 'string')
    out.push({ channel: userChannel(ev.data.userId), message });
  return out;
}

/**
 * Parsed events by record value. The embedded event log hands every consumer group the same
 * record objects, so the relay and the notifier share one parse of each event (#19); with Kafka
 * each group's fetch brings its own buffers and nothing is shared. Entries go with the buffers.
 */
const parsedEvents = new WeakMap<Buffer, ChatEvent | null>();

/**
 * Parses a chat.events record; null for anything that is not a version-1 envelope. The event
 * may be shared with other consumers of the same record: read it, do not change it.
 */
export function parseChatEvent(value: Buffer | string): ChatEvent | null {
  if (typeof value === 'string') return checkChatEvent(value);
  const known = parsedEvents.get(value);
  if (known !== undefined) return known;
  const ev = checkChatEvent(value.toString());
  parsedEvents.set(value, ev);
  return ev;
}

function checkChatEvent(json: string): ChatEvent | null {
  let ev: unknown;
  try {
    ev = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof ev !== 'object' || ev === null) return null;
  const e = ev as Partial<ChatEvent>;
  if (
    e.version !== 1 ||
    typeof e.type !== 'string' ||
    typeof e.id !== 'string' ||
    typeof e.conversationId !== 'string' ||
    !Array.isArray(e.recipients) ||
    typeof e.data !== 'object' ||
    e.data === null
  )
    return null;
  return e as ChatEvent;
}
