import { Outbound, type DeliveryMeta } from '../fanout/hub.ts';
import { ChangeMerge, editedIds, replayable, type Change } from '../domain/changes.ts';
import { messageView } from '../domain/view.ts';
import type { Message } from '../domain/store.ts';
import { idOf, type Connection } from './connection.ts';
import type { GatewayContext } from './context.ts';
import { encodeFrame, parseCursors, type ClientFrame, type Cursor } from './protocol.ts';

const REPLAY_PAGE = 200;

type Held = { out: Outbound; meta: DeliveryMeta }[];

/**
 * Replays each named conversation's messages after the client's seq and, when it sent a change
 * position, its change log after that (edits, deletions, reactions, receipts, membership), merged
 * in the order they happened, while live frames for it are held back; then releases the held
 * frames minus what the replay covered. Everything comes from the store: any pod can serve it.
 */
export async function resume(
  ctx: GatewayContext,
  conn: Connection,
  f: Extract<ClientFrame, { type: 'resume' }>,
): Promise<void> {
  const parsed = parseCursors(f.cursors, ctx.opts.resumeMaxConversations);
  if (!parsed.ok) return conn.sendError(f.id, 'INVALID_CURSOR', parsed.message);
  const conversations: Record<string, number> = {};
  const positions: Record<string, number> = {};
  const truncated: Record<string, number> = {};
  const refetch: string[] = [];
  for (const [conv, cursor] of parsed.cursors) {
    if (!conn.conversations.has(conv)) {
      const removal = await ownRemoval(ctx, conn, conv, cursor);
      if (conn.closing) return;
      if (!removal) {
        conn.sendError(f.id, 'CONVERSATION_NOT_FOUND', 'no such conversation', { conversationId: conv });
        continue;
      }
      // Removed while away: the client learns it as it would have live, and drops the conversation.
      if (!conn.write(changeFrame(conv, removal, new Map())!)) return;
      ctx.metrics.sent.labels(removal.type).inc();
      positions[conv] = removal.pos;
      continue;
    }
    const held: Held = [];
    (conn.resuming ??= new Map()).set(conv, held);
    const r = await replayOne(ctx, conn, conv, cursor, held);
    if (!r) return;
    conversations[conv] = r.seq;
    positions[conv] = r.pos;
    if (r.truncated) truncated[conv] = r.seq + 1;
    if (r.refetch) refetch.push(conv);
  }
  conn.send({
    type: 'resumed',
    ...idOf(f),
    conversations,
    positions,
    ...(Object.keys(truncated).length ? { truncated } : {}),
    ...(refetch.length ? { refetch } : {}),
  });
}

interface Replayed {
  /** The last seq replayed (or the cursor). */
  seq: number;
  /** The change position the client is now at. */
  pos: number;
  truncated: boolean;
  refetch: boolean;
}

/** One conversation's replay; undefined when the socket closed meanwhile. */
async function replayOne(
  ctx: GatewayContext,
  conn: Connection,
  conv: string,
  cursor: Cursor,
  held: Held,
): Promise<Replayed | undefined> {
  const { opts, metrics } = ctx;
  let last = cursor.seq;
  let sent = 0;
  let changed = 0;
  let merge = new ChangeMerge([], cursor.seq, 0);
  try {
    // The log is read before the messages: a change made meanwhile is held live, above `head`.
    const log = await ctx.chat.views.changes(conv, cursor.pos, opts.resumeMaxEvents + 1);
    const refetch = cursor.pos !== undefined && !replayable(log.changes, cursor.pos, opts.resumeMaxEvents);
    const replay = cursor.pos !== undefined && !refetch;
    merge = replay
      ? new ChangeMerge(log.changes, cursor.seq, cursor.pos!)
      : new ChangeMerge([], cursor.seq, log.head);
    // An edit is sent with the message as it is now; none for a message gone or expired since.
    const edited = replay ? await ctx.chat.views.visibleByIds(conv, editedIds(log.changes)) : new Map();
    const writeChanges = (due: Change[]): boolean => {
      for (const c of due) {
        const frame = changeFrame(conv, c, edited);
        if (!frame) continue;
        if (!conn.write(frame)) return false;
        metrics.sent.labels(c.type).inc();
        changed++;
      }
      return true;
    };
    for (;;) {
      const page = await ctx.chat.views.replay(
        conv,
        last,
        Math.min(REPLAY_PAGE, opts.resumeMaxMessages - sent),
      );
      const alreadyLive = conn.liveBeforeResume?.get(conv);
      for (const m of page) {
        if (!writeChanges(merge.before(m.seq))) return undefined;
        if (!alreadyLive?.has(m.seq)) {
          if (!conn.write(messageFrame(conv, m))) return undefined;
          sent++;
        }
        last = m.seq;
      }
      if (page.length === 0 || sent >= opts.resumeMaxMessages) break;
      await conn.drained();
      if (conn.closing) return undefined;
    }
    const truncated = sent >= opts.resumeMaxMessages;
    // Cut short: only the changes made before the last message sent; the next resume goes on.
    if (!writeChanges(merge.before(truncated ? last + 1 : Infinity))) return undefined;
    return { seq: last, pos: merge.pos, truncated, refetch };
  } finally {
    metrics.resumedMessages.inc(sent);
    metrics.sent.labels('message.created').inc(sent);
    conn.resuming!.delete(conv);
    conn.liveBeforeResume?.delete(conv);
    if (!conn.closing) {
      (conn.floor ??= new Map()).set(conv, last);
      for (const h of held) if (!coveredChange(h.out, merge.pos)) conn.deliver(h.out, h.meta);
    }
    ctx.logger.debug({ conversationId: conv, messages: sent, changes: changed }, 'resumed');
  }
}

/**
 * The client's own removal from a conversation it is no longer in, logged after its position: the
 * one change of that conversation a non-member is told (the position proves it was a member then).
 */
async function ownRemoval(
  ctx: GatewayContext,
  conn: Connection,
  conv: string,
  cursor: Cursor,
): Promise<Change | undefined> {
  if (cursor.pos === undefined) return undefined;
  const log = await ctx.chat.views.changes(conv, cursor.pos, ctx.opts.resumeMaxEvents + 1);
  return log.changes.findLast((c) => c.type === 'member.removed' && c.data.userId === conn.userId);
}

function messageFrame(conv: string, m: Message): Outbound {
  return new Outbound(
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
}

/** A logged change as the frame it went out as live, with `replay: true` (none: skip it). */
function changeFrame(conv: string, c: Change, edited: Map<string, Message>): Outbound | undefined {
  let data = c.data;
  if (c.type === 'message.edited') {
    const m = edited.get((c.data.message as { id: string }).id);
    if (!m) return undefined;
    data = { message: messageView(m) };
  }
  return new Outbound(
    encodeFrame({
      type: c.type,
      eventId: c.eventId,
      conversationId: conv,
      occurredAt: c.occurredAt,
      pos: c.pos,
      replay: true,
      data,
    }),
    c.type,
  );
}

/** A held live change at or below the position the replay covered (parsed: only while resuming). */
function coveredChange(out: Outbound, pos: number): boolean {
  if (out.type === 'message.created' || !out.text.includes('"pos":')) return false;
  const p = (JSON.parse(out.text) as { pos?: unknown }).pos;
  return typeof p === 'number' && p <= pos;
}
