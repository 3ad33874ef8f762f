import { randomUUID } from 'node:crypto';
import type { PresenceStatus } from '../domain/presence.ts';
import { idOf, type Connection } from './connection.ts';
import type { GatewayContext } from './context.ts';
import type { ClientFrame } from './protocol.ts';

/**
 * Presence over the socket: a user's status changes go to their accepted direct chats and small
 * groups (never to a conversation holding someone they blocked).
 */
export class PresenceFeed {
  private readonly groupSizes = new Map<string, { shares: boolean; at: number }>();

  constructor(private readonly ctx: GatewayContext) {}

  /** A `presence` frame: the socket's status (online/away), announced if the user's changed. */
  async onFrame(conn: Connection, frame: Extract<ClientFrame, { type: 'presence' }>): Promise<void> {
    await this.announce(conn.userId, await this.ctx.presence.set(conn.userId, conn.id, frame.status));
    conn.send({ type: 'ack', ...idOf(frame), for: 'presence', status: frame.status });
  }

  /** Pushes a presence change to the user's accepted direct chats and small groups. */
  async announce(
    userId: string,
    change: { before: PresenceStatus; after: PresenceStatus; lastSeen?: string },
  ): Promise<void> {
    if (change.before === change.after) return;
    // Only conversations the user accepted, and none holding someone the user blocked (#15).
    const convs = await this.ctx.chat.views.presenceAudience(userId);
    const frame = {
      type: 'presence',
      eventId: randomUUID(),
      userId,
      status: change.after,
      ...(change.lastSeen ? { lastSeen: change.lastSeen } : {}),
    };
    for (const c of convs) {
      if (!(await this.sharesPresence(c))) continue;
      await this.ctx.hub.publish(c, { ...frame, conversationId: c });
    }
  }

  /**
   * Pushes a user's current presence into one conversation, where it was not shared before (the
   * user just accepted it), so its members need not wait for the next change.
   */
  async share(userId: string, conversationId: string): Promise<void> {
    if (!(await this.sharesPresence(conversationId))) return;
    const view = await this.ctx.presence.view(userId);
    await this.ctx.hub.publish(conversationId, {
      type: 'presence',
      eventId: randomUUID(),
      ...view,
      conversationId,
    });
  }

  /** Direct chats and groups up to the configured size share presence (cached five minutes). */
  private async sharesPresence(conversationId: string): Promise<boolean> {
    const hit = this.groupSizes.get(conversationId);
    if (hit && Date.now() - hit.at < 300_000) return hit.shares;
    const size = await this.ctx.chat.views.memberCount(conversationId);
    const shares = size <= Math.max(2, this.ctx.opts.presenceMaxMembers);
    if (this.groupSizes.size > 50_000) this.groupSizes.clear();
    this.groupSizes.set(conversationId, { shares, at: Date.now() });
    return shares;
  }
}
