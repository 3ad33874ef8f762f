import type { Connection } from './connection.ts';
import type { GatewayContext } from './context.ts';
import type { ClientFrame } from './protocol.ts';

/**
 * A typing frame: published to the conversation's gateways (not stored), throttled per socket and
 * conversation; "stopped" always goes through.
 */
export async function onTyping(
  ctx: GatewayContext,
  conn: Connection,
  f: Extract<ClientFrame, { type: 'typing' }>,
): Promise<void> {
  if (!conn.conversations.has(f.conversationId))
    return conn.sendError(f.id, 'CONVERSATION_NOT_FOUND', 'no such conversation', {
      conversationId: f.conversationId,
    });
  const now = Date.now();
  const at = (conn.typingAt ??= new Map());
  if (f.state === 'started' && now - (at.get(f.conversationId) ?? 0) < ctx.opts.typingThrottleMs) {
    ctx.metrics.typing.labels(f.state, 'throttled').inc();
    return;
  }
  at.set(f.conversationId, f.state === 'started' ? now : 0);
  ctx.metrics.typing.labels(f.state, 'published').inc();
  await ctx.hub.publish(f.conversationId, {
    type: 'typing',
    conversationId: f.conversationId,
    userId: conn.userId,
    state: f.state,
  });
}
