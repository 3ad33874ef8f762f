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
    ...(traceparent ? { traceId: traceparent.slice(3, 35), traceparent } : {}),
    data: ev.data,
  });
}

export interface Publication {
  channel: string;
  message: string;
}

export function route(ev: ChatEvent, traceparent = ''): Publication[] {
  const message = eventFrame(ev, traceparent);
  if (ev.type === 'conversation.updated' && ev.data.change === 'created')
    return ev.recipients.map((u) => ({ channel: userChannel(u), message }));
  const out = [{ channel: conversationChannel(ev.conversationId), message }];
  if (ev.type === 'member.added' && typeof ev.data.userId === 'string')
    out.push({ channel: userChannel(ev.data.userId), message });
  return out;
}

/** Parses a chat.events record; null for anything that is not a version-1 envelope. */
export function parseChatEvent(value: Buffer | string): ChatEvent | null {
  let ev: unknown;
  try {
    ev = JSON.parse(value.toString());
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
