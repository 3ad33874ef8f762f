import { Outbound, type DeliveryMeta } from '../fanout/hub.ts';
import { messageView } from '../domain/view.ts';
import { idOf, type Connection } from './connection.ts';
import type { GatewayContext } from './context.ts';
import { encodeFrame, parseCursors, type ClientFrame } from './protocol.ts';

const REPLAY_PAGE = 200;

/**
 * Replays each named conversation's messages after the client's cursor, in seq order, while live
 * frames for it are held back; then releases the held frames minus what the replay covered.
 */
export async function resume(
  ctx: GatewayContext,
  conn: Connection,
  f: Extract<ClientFrame, { type: 'resume' }>,
): Promise<void> {
  const { opts, metrics } = ctx;
  const parsed = parseCursors(f.cursors, opts.resumeMaxConversations);
  if (!parsed.ok) return conn.sendError(f.id, 'INVALID_CURSOR', parsed.message);
  const conversations: Record<string, number> = {};
  const truncated: Record<string, number> = {};
  for (const [conv, cursor] of parsed.cursors) {
    if (!conn.conversations.has(conv)) {
      conn.sendError(f.id, 'CONVERSATION_NOT_FOUND', 'no such conversation', { conversationId: conv });
      continue;
    }
    const held: { out: Outbound; meta: DeliveryMeta }[] = [];
    (conn.resuming ??= new Map()).set(conv, held);
    let last = cursor;
    let sent = 0;
    try {
      for (;;) {
        const page = await ctx.chat.views.replay(
          conv,
          last,
          Math.min(REPLAY_PAGE, opts.resumeMaxMessages - sent),
        );
        const alreadyLive = conn.liveBeforeResume?.get(conv);
        for (const m of page) {
          if (alreadyLive?.has(m.seq)) {
            last = m.seq;
            continue;
          }
          const out = new Outbound(
            encodeFrame({
              type: 'message.created',
              eventId: `replay:${m._id}`,
              conversationId: conv,
              occurredAt: m.createdAt,
              replay: true,
              data: messageView(m),
            }),
            'message.created',
          );
          if (!conn.write(out)) return;
          last = m.seq;
          sent++;
        }
        if (page.length === 0 || sent >= opts.resumeMaxMessages) break;
        await conn.drained();
        if (conn.closing) return;
      }
      if (sent >= opts.resumeMaxMessages) truncated[conv] = last + 1;
    } finally {
      metrics.resumedMessages.inc(sent);
      metrics.sent.labels('message.created').inc(sent);
      conn.resuming.delete(conv);
      conn.liveBeforeResume?.delete(conv);
      if (!conn.closing) {
        (conn.floor ??= new Map()).set(conv, last);
        for (const h of held) conn.deliver(h.out, h.meta);
      }
    }
    conversations[conv] = last;
  }
  conn.send({
    type: 'resumed',
    ...idOf(f),
    conversations,
    ...(Object.keys(truncated).length ? { truncated } : {}),
  });
}
