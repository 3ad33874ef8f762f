import type { Principal } from '@parley/common';
import { messageProblems as P } from './errors.ts';
import type { Conversation, Member, MessageStore, Role } from './store.ts';

/**
 * Who may see and do what: every read and write checks the caller through here, and answers
 * CONVERSATION_NOT_FOUND or MESSAGE_NOT_FOUND (never someone else's data) to a non-member.
 */
export class Access {
  constructor(private readonly store: MessageStore) {}

  /** The caller's membership, or 404 whether the conversation is missing or foreign. */
  async member(p: Principal, conversationId: string): Promise<{ conv: Conversation; me: Member }> {
    const [conv, me] = await Promise.all([
      this.store.conversations.findById(conversationId),
      this.store.membership(conversationId, p.userId),
    ]);
    if (!conv || !me) throw P.CONVERSATION_NOT_FOUND();
    return { conv, me };
  }

  /** A message the caller may see, with its conversation and the caller's membership. */
  async visibleMessage(p: Principal, messageId: string) {
    const m = await this.store.messages.findById(messageId);
    if (!m || m.expiresAt <= Date.now()) throw P.MESSAGE_NOT_FOUND();
    const me = await this.store.membership(m.conversationId, p.userId);
    if (!me) throw P.MESSAGE_NOT_FOUND();
    const conv = (await this.store.conversations.findById(m.conversationId))!;
    return { m, me, conv };
  }

  requireRole(me: Member, roles: Role[], what: string): void {
    if (!roles.includes(me.role)) throw P.NOT_ALLOWED_BY_ROLE(`${what} needs role ${roles.join(' or ')}`);
  }

  async resolveUsers(usernames: string[]) {
    const unique = [...new Set(usernames)];
    const found = await this.store.usersByUsername(unique);
    const missing = unique.filter((u) => !found.has(u));
    if (missing.length) throw P.USER_NOT_FOUND(`unknown user(s): ${missing.join(', ')}`);
    return [...found.values()];
  }

  /** Refuses adding users who blocked the one adding them (#15: no way around a block). */
  async refuseBlockers(p: Principal, userIds: string[]): Promise<void> {
    const blockers = await this.store.blockersAmong(userIds, p.userId);
    if (blockers.size > 0) throw P.BLOCKED('a user you are adding blocked you');
  }

  /** Accepts a conversation request (replying or accepting): presence is shared from then on. */
  async markAccepted(me: Member): Promise<Member> {
    if (!me.pending) return me;
    await this.store.members.updateOne({ _id: me._id }, { $unset: ['pending'] });
    const { pending: _, ...accepted } = me;
    return accepted;
  }
}
