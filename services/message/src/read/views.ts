import { q, type Principal } from '@parley/common';
import type { Access } from '../domain/access.ts';
import { changeHead, changesAfter, type Change } from '../domain/changes.ts';
import { messageProblems as P } from '../domain/errors.ts';
import { searchMessages } from '../domain/search.ts';
import { parseSeq } from '../domain/sequencing.ts';
import type { Conversation, Member, Message, MessageStore } from '../domain/store.ts';
import { messageView } from '../domain/view.ts';

/**
 * The read models: conversations and messages as the caller sees them (history, replies, stars,
 * search), the membership reads the gateway needs, and resume's replay. No writes.
 */
export class Views {
  constructor(
    private readonly store: MessageStore,
    private readonly access: Access,
  ) {}

  /** Member user ids (the caller's membership is checked by the caller). */
  async memberIds(conversationId: string): Promise<string[]> {
    return (await this.store.membersOf(conversationId)).map((m) => m.userId);
  }

  /**
   * The members whose presence `p` may see in a conversation `p` is in: those who accepted it
   * (started it, sent in it or accepted the request) and have not blocked `p`; `p` always.
   */
  async presenceVisibleTo(p: Principal, conversationId: string): Promise<string[]> {
    await this.access.member(p, conversationId);
    const accepted = (await this.store.membersOf(conversationId))
      .filter((m) => !m.pending)
      .map((m) => m.userId)
      .filter((u) => u !== p.userId);
    const blockers = await this.store.blockersAmong(accepted, p.userId);
    return [p.userId, ...accepted.filter((u) => !blockers.has(u))];
  }

  /**
   * The conversations a user's presence changes go to: those the user accepted, except any that
   * holds someone the user blocked.
   */
  async presenceAudience(userId: string): Promise<string[]> {
    const [mine, blocks] = await Promise.all([
      this.store.members.find({ userId }, { limit: 10_000 }),
      this.store.blocks.find({ blockerId: userId }, { limit: 10_000 }),
    ]);
    const accepted = mine.filter((m) => !m.pending).map((m) => m.conversationId);
    if (blocks.length === 0 || accepted.length === 0) return accepted;
    const shared = await this.store.members.find(
      { conversationId: q.in(accepted), userId: q.in(blocks.map((b) => b.blockedId)) },
      { limit: 100_000 },
    );
    const withBlocked = new Set(shared.map((m) => m.conversationId));
    return accepted.filter((c) => !withBlocked.has(c));
  }

  async view(p: Principal, conv: Conversation, me: Member, opts: { withMembers?: boolean } = {}) {
    const state = await this.store.states.findById(conv._id);
    const unreadCount = await this.store.messages.count({
      conversationId: conv._id,
      seq: q.gt(me.readSeq),
      senderId: q.ne(p.userId),
      deleted: q.exists(false),
      ...this.store.visible(),
    });
    let members;
    if (opts.withMembers) {
      const ms = await this.store.membersOf(conv._id);
      const users = await this.store.usersById(ms.map((m) => m.userId));
      members = ms.map((m) => ({
        userId: m.userId,
        username: users.get(m.userId)?.username ?? '(deleted)',
        displayName: users.get(m.userId)?.displayName ?? '(deleted)',
        role: m.role,
        joinedAt: m.joinedAt,
        readSeq: m.readSeq,
      }));
    }
    return {
      id: conv._id,
      type: conv.type,
      ...(conv.title ? { title: conv.title } : {}),
      ...(conv.defaultTtlSeconds ? { defaultTtlSeconds: conv.defaultTtlSeconds } : {}),
      createdAt: conv.createdAt,
      updatedAt: conv.updatedAt,
      lastSeq: state?.lastSeq ?? 0,
      ...(state ? { lastMessageAt: state.lastMessageAt, lastMessage: state.preview } : {}),
      unreadCount,
      myRole: me.role,
      accepted: !me.pending,
      ...(members ? { members } : {}),
    };
  }

  /** The caller's conversations by last activity; the cursor is the position after the last one shown. */
  async list(p: Principal, cursor: string | undefined, limit: number) {
    const mine = await this.store.members.find({ userId: p.userId }, { limit: 10_000 });
    const ids = mine.map((m) => m.conversationId);
    const [convs, states] = await Promise.all([
      this.store.conversations.find({ _id: q.in(ids) }, { limit: ids.length }),
      this.store.states.find({ _id: q.in(ids) }, { limit: ids.length }),
    ]);
    const stateOf = new Map(states.map((s) => [s._id, s]));
    const activity = (c: Conversation) => stateOf.get(c._id)?.lastMessageAt ?? c.createdAt;
    const sorted = convs.sort((a, b) => activity(b).localeCompare(activity(a)) || a._id.localeCompare(b._id));
    let start = 0;
    if (cursor !== undefined) {
      const m = /^([^|]{1,40})\|([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
      if (!m) throw P.INVALID_CURSOR();
      const [, at, id] = m;
      start = sorted.findIndex((c) => activity(c) < at! || (activity(c) === at && c._id > id!));
      if (start < 0) start = sorted.length;
    }
    const page = sorted.slice(start, start + limit);
    const memberOf = new Map(mine.map((m) => [m.conversationId, m]));
    const conversations = await Promise.all(page.map((c) => this.view(p, c, memberOf.get(c._id)!)));
    const last = page[page.length - 1];
    return {
      conversations,
      ...(last && start + limit < sorted.length
        ? { nextCursor: Buffer.from(`${activity(last)}|${last._id}`).toString('base64url') }
        : {}),
    };
  }

  /** Messages as the caller sees them: reactions, their star, and in direct chats the read status. */
  async decorate(p: Principal, conv: Conversation, messages: Message[]) {
    const ids = messages.map((m) => m._id);
    const [reactions, stars, others] = await Promise.all([
      ids.length ? this.store.reactions.find({ messageId: q.in(ids) }, { limit: 100_000 }) : [],
      ids.length
        ? this.store.stars.find({ userId: p.userId, messageId: q.in(ids) }, { limit: ids.length })
        : [],
      conv.type === 'direct'
        ? this.store.members.find({ conversationId: conv._id, userId: q.ne(p.userId) }, { limit: 1 })
        : [],
    ]);
    const starred = new Set(stars.map((s) => s.messageId));
    const other = others[0];
    return messages.map((m) => {
      const mine = reactions.filter((r) => r.messageId === m._id);
      const counts = new Map<string, { count: number; me: boolean }>();
      for (const r of mine) {
        const c = counts.get(r.emoji) ?? { count: 0, me: false };
        c.count++;
        c.me ||= r.userId === p.userId;
        counts.set(r.emoji, c);
      }
      return {
        ...messageView(m),
        reactions: [...counts].map(([emoji, c]) => ({ emoji, ...c })),
        starred: starred.has(m._id),
        // Direct chats show per-message status for your own messages, derived from the other's cursors.
        ...(other && m.senderId === p.userId
          ? {
              status:
                other.readSeq >= m.seq
                  ? ('read' as const)
                  : other.deliveredSeq >= m.seq
                    ? ('delivered' as const)
                    : ('sent' as const),
            }
          : {}),
      };
    });
  }

  async messages(
    p: Principal,
    conversationId: string,
    query: { after?: string | undefined; before?: string | undefined; limit?: number | undefined },
  ) {
    const { conv } = await this.access.member(p, conversationId);
    const limit = query.limit ?? 50;
    if (query.after !== undefined && query.before !== undefined)
      throw P.INVALID_CURSOR('use after or before, not both');
    const after = query.after === undefined ? undefined : parseSeq(query.after);
    const before = query.before === undefined ? undefined : parseSeq(query.before);
    if (after === null || before === null) throw P.INVALID_CURSOR('after and before take a seq number');
    let page: Message[];
    if (before !== undefined) {
      page = (
        await this.store.messages.find(
          { conversationId, seq: q.lt(before), ...this.store.visible() },
          { sort: [['seq', -1]], limit },
        )
      ).reverse();
    } else {
      page = await this.store.messages.find(
        { conversationId, seq: q.gt(after ?? 0), ...this.store.visible() },
        { sort: [['seq', 1]], limit },
      );
    }
    const last = page[page.length - 1];
    const first = page[0];
    return {
      messages: await this.decorate(p, conv, page),
      ...(last && page.length === limit ? { nextCursor: String(last.seq) } : {}),
      ...(first && first.seq > 1 ? { prevCursor: String(first.seq) } : {}),
    };
  }

  async replies(p: Principal, messageId: string) {
    const { conv } = await this.access.visibleMessage(p, messageId);
    const replies = await this.store.messages.find(
      { replyTo: messageId, ...this.store.visible() },
      { sort: [['seq', 1]], limit: 500 },
    );
    return { messages: await this.decorate(p, conv, replies) };
  }

  async starred(p: Principal) {
    const stars = await this.store.stars.find({ userId: p.userId }, { sort: [['at', -1]], limit: 500 });
    const out = [];
    for (const s of stars) {
      const me = await this.store.membership(s.conversationId, p.userId);
      const m = await this.store.messages.findById(s.messageId);
      if (!me || !m || m.expiresAt <= Date.now()) continue;
      const conv = (await this.store.conversations.findById(s.conversationId))!;
      out.push((await this.decorate(p, conv, [m]))[0]!);
    }
    return { messages: out };
  }

  /** Full-text search in the caller's conversations: relevance (terms matched), then recency. */
  async search(
    p: Principal,
    query: {
      q: string;
      conversationId?: string | undefined;
      cursor?: string | undefined;
      limit?: number | undefined;
    },
  ) {
    let convIds: string[];
    if (query.conversationId) {
      await this.access.member(p, query.conversationId);
      convIds = [query.conversationId];
    } else {
      convIds = (await this.store.members.find({ userId: p.userId }, { limit: 10_000 })).map(
        (m) => m.conversationId,
      );
    }
    let offset = 0;
    if (query.cursor !== undefined) {
      const m = /^o:(\d{1,6})$/.exec(Buffer.from(query.cursor, 'base64url').toString());
      if (!m) throw P.INVALID_CURSOR();
      offset = Number(m[1]);
    }
    const limit = query.limit ?? 20;
    const found = await searchMessages(this.store, convIds, query.q, offset, limit);
    const byConv = new Map<string, Message[]>();
    for (const m of found.messages)
      byConv.set(m.conversationId, [...(byConv.get(m.conversationId) ?? []), m]);
    const decorated = new Map<string, Awaited<ReturnType<Views['decorate']>>[number]>();
    for (const [cid, ms] of byConv) {
      const conv = (await this.store.conversations.findById(cid))!;
      for (const d of await this.decorate(p, conv, ms)) decorated.set(d.id, d);
    }
    return {
      messages: found.messages.map((m) => decorated.get(m._id)!),
      ...(found.more ? { nextCursor: Buffer.from(`o:${offset + limit}`).toString('base64url') } : {}),
    };
  }

  /** The conversations a user is in (their sockets follow these). */
  async memberships(userId: string): Promise<string[]> {
    return (await this.store.members.find({ userId }, { limit: 10_000 })).map((m) => m.conversationId);
  }

  /** How many members a conversation has. */
  memberCount(conversationId: string): Promise<number> {
    return this.store.members.count({ conversationId });
  }

  /**
   * What resume replays: the visible messages of a conversation after `afterSeq`, in seq order, at
   * most `limit` (the caller pages). The caller's membership is checked by the caller.
   */
  replay(conversationId: string, afterSeq: number, limit: number): Promise<Message[]> {
    return this.store.messages.find(
      { conversationId, seq: q.gt(afterSeq), ...this.store.visible() },
      { sort: [['seq', 1]], limit },
    );
  }

  /** The visible messages of a conversation among `ids`, by id (what a replayed edit sends). */
  async visibleByIds(conversationId: string, ids: readonly string[]): Promise<Map<string, Message>> {
    if (ids.length === 0) return new Map();
    const found = await this.store.messages.find(
      { _id: q.in([...ids]), conversationId, ...this.store.visible() },
      { limit: ids.length },
    );
    return new Map(found.map((m) => [m._id, m]));
  }

  /**
   * What resume replays besides messages: up to `limit` entries of the conversation's change log
   * after `afterPos` (with `afterPos` undefined, none), and the log's last position.
   */
  async changes(
    conversationId: string,
    afterPos: number | undefined,
    limit: number,
  ): Promise<{ changes: Change[]; head: number }> {
    const changes =
      afterPos === undefined ? [] : await changesAfter(this.store.changes, conversationId, afterPos, limit);
    // Below the limit, the last one read is the head.
    const head =
      changes.length > 0 && changes.length < limit
        ? changes.at(-1)!.pos
        : await changeHead(this.store.changes, conversationId);
    return { changes, head };
  }
}
