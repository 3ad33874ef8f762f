import { randomUUID } from 'node:crypto';
import { q, tooMany, type EventLog, type Logger, type Principal } from '@parley/common';
import { chatEvent, messageIdFor, type ChatEventType, type SendCommand } from './envelopes.ts';
import { messageProblems as P } from './errors.ts';
import { indexMessage, searchMessages, unindexMessage } from './search.ts';
import { parseSeq } from './sequencing.ts';
import type { Conversation, Member, Message, MessageStore, Role } from './store.ts';
import { messageView } from './view.ts';

export interface ChatOptions {
  topicMessages: string;
  topicEvents: string;
  memberCap: number;
  editWindowSec: number;
  persistWaitMs: number;
  /** The send limit, for its message (the bucket itself is the takeSend function's). */
  sendRatePerMinute: number;
  sendBurst: number;
}

const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\u200d|\ufe0f){1,8}$/u;

/**
 * Conversations, members and messages as the api role sees them. Every method takes the caller
 * and answers CONVERSATION_NOT_FOUND (never someone else's data) when the caller is not a member.
 */
export class Chat {
  /** One channel per API process: the worker tells it when a message it waits for is stored. */
  readonly persistedChannel = `persisted:${randomUUID()}`;
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly store: MessageStore,
    private readonly log: EventLog,
    private readonly opts: ChatOptions,
    private readonly logger: Logger,
    /** Takes one send from the user's bucket, shared by REST and every socket on every pod. */
    private readonly takeSend: (
      userId: string,
    ) => Promise<{ allowed: boolean; retryAfterMs: number }> = async () => ({
      allowed: true,
      retryAfterMs: 0,
    }),
  ) {}

  /** Called with each id published on `persistedChannel`. */
  notifyPersisted(id: string): void {
    for (const wake of this.waiters.get(id) ?? []) wake();
  }

  private waitPersisted(id: string, ms: number): { done: Promise<void>; cancel: () => void } {
    let wake!: () => void;
    const done = new Promise<void>((resolve) => (wake = resolve));
    const set = this.waiters.get(id) ?? new Set();
    set.add(wake);
    this.waiters.set(id, set);
    const timer = setTimeout(wake, ms);
    const cancel = () => {
      clearTimeout(timer);
      set.delete(wake);
      if (set.size === 0) this.waiters.delete(id);
    };
    void done.then(cancel);
    return { done, cancel };
  }

  private async emit(
    type: ChatEventType,
    conversationId: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    const recipients = (await this.store.membersOf(conversationId)).map((m) => m.userId);
    await this.log.produce(this.opts.topicEvents, [
      {
        key: conversationId,
        value: JSON.stringify(chatEvent(type, conversationId, recipients, data)),
        headers: { 'event-type': type },
      },
    ]);
  }

  /** Member user ids (the caller's membership is checked by the caller). */
  async memberIds(conversationId: string): Promise<string[]> {
    return (await this.store.membersOf(conversationId)).map((m) => m.userId);
  }

  /**
   * The members whose presence `p` may see in a conversation `p` is in: those who accepted it
   * (started it, sent in it or accepted the request) and have not blocked `p`; `p` always.
   */
  async presenceVisibleTo(p: Principal, conversationId: string): Promise<string[]> {
    await this.member(p, conversationId);
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

  /** Accepts a conversation request: the member's presence is shared there from now on. */
  async accept(p: Principal, conversationId: string) {
    const { conv, me } = await this.member(p, conversationId);
    const accepted = await this.markAccepted(me);
    return this.view(p, conv, accepted, true);
  }

  private async markAccepted(me: Member): Promise<Member> {
    if (!me.pending) return me;
    await this.store.members.updateOne({ _id: me._id }, { $unset: ['pending'] });
    const { pending: _, ...accepted } = me;
    return accepted;
  }

  /** Refuses adding users who blocked the one adding them (#15: no way around a block). */
  private async refuseBlockers(p: Principal, userIds: string[]): Promise<void> {
    const blockers = await this.store.blockersAmong(userIds, p.userId);
    if (blockers.size > 0) throw P.BLOCKED('a user you are adding blocked you');
  }

  /** The caller's membership, or 404 whether the conversation is missing or foreign. */
  async member(p: Principal, conversationId: string): Promise<{ conv: Conversation; me: Member }> {
    const [conv, me] = await Promise.all([
      this.store.conversations.findById(conversationId),
      this.store.membership(conversationId, p.userId),
    ]);
    if (!conv || !me) throw P.CONVERSATION_NOT_FOUND();
    return { conv, me };
  }

  private requireRole(me: Member, roles: Role[], what: string): void {
    if (!roles.includes(me.role)) throw P.NOT_ALLOWED_BY_ROLE(`${what} needs role ${roles.join(' or ')}`);
  }

  private async resolveUsers(usernames: string[]) {
    const unique = [...new Set(usernames)];
    const found = await this.store.usersByUsername(unique);
    const missing = unique.filter((u) => !found.has(u));
    if (missing.length) throw P.USER_NOT_FOUND(`unknown user(s): ${missing.join(', ')}`);
    return [...found.values()];
  }

  async create(
    p: Principal,
    input: {
      type: 'direct' | 'group';
      members: string[];
      title?: string | undefined;
      defaultTtlSeconds?: number | undefined;
    },
  ): Promise<{ conv: Conversation; created: boolean }> {
    const users = (await this.resolveUsers(input.members)).filter((u) => u._id !== p.userId);
    const now = new Date().toISOString();
    if (input.type === 'direct') {
      if (users.length !== 1)
        throw P.INVALID_MEMBERS(`a direct conversation has exactly one other member, not ${users.length}`);
      const other = users[0]!;
      if (await this.store.isBlocked(other._id, p.userId)) throw P.BLOCKED();
      const directKey = [p.userId, other._id].sort().join(':');
      const existing = await this.store.conversations.findOne({ directKey });
      if (existing) return { conv: existing, created: false };
      const conv: Conversation = {
        _id: randomUUID(),
        type: 'direct',
        directKey,
        createdBy: p.userId,
        createdAt: now,
        updatedAt: now,
      };
      if (!(await this.store.insertIfAbsent(this.store.conversations, conv))) {
        // Both sides created it at once: the unique direct key picked one.
        return { conv: (await this.store.conversations.findOne({ directKey }))!, created: false };
      }
      await this.addMember(conv._id, p.userId, { role: 'member', at: now });
      await this.addMember(conv._id, other._id, { role: 'member', at: now, pending: true });
      await this.emit('conversation.updated', conv._id, {
        conversation: { id: conv._id, type: 'direct' },
        change: 'created',
      });
      return { conv, created: true };
    }
    if (users.length + 1 > this.opts.memberCap)
      throw P.MEMBER_CAP_REACHED(`at most ${this.opts.memberCap} members`);
    await this.refuseBlockers(
      p,
      users.map((u) => u._id),
    );
    const conv: Conversation = {
      _id: randomUUID(),
      type: 'group',
      ...(input.title ? { title: input.title } : {}),
      ...(input.defaultTtlSeconds ? { defaultTtlSeconds: input.defaultTtlSeconds } : {}),
      createdBy: p.userId,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.conversations.insertOne(conv);
    await this.addMember(conv._id, p.userId, { role: 'owner', at: now });
    for (const u of users) await this.addMember(conv._id, u._id, { role: 'member', at: now, pending: true });
    await this.emit('conversation.updated', conv._id, {
      conversation: { id: conv._id, type: 'group', title: conv.title },
      change: 'created',
    });
    return { conv, created: true };
  }

  private async addMember(
    conversationId: string,
    userId: string,
    opts: { role: Role; at: string; pending?: boolean },
  ): Promise<boolean> {
    return this.store.insertIfAbsent(this.store.members, {
      _id: this.store.memberId(conversationId, userId),
      conversationId,
      userId,
      role: opts.role,
      joinedAt: opts.at,
      readSeq: 0,
      deliveredSeq: 0,
      ...(opts.pending ? { pending: true as const } : {}),
    });
  }

  async view(p: Principal, conv: Conversation, me: Member, withMembers: boolean) {
    const state = await this.store.states.findById(conv._id);
    const unreadCount = await this.store.messages.count({
      conversationId: conv._id,
      seq: q.gt(me.readSeq),
      senderId: q.ne(p.userId),
      deleted: q.exists(false),
      ...this.store.visible(),
    });
    let members;
    if (withMembers) {
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
    const conversations = await Promise.all(page.map((c) => this.view(p, c, memberOf.get(c._id)!, false)));
    const last = page[page.length - 1];
    return {
      conversations,
      ...(last && start + limit < sorted.length
        ? { nextCursor: Buffer.from(`${activity(last)}|${last._id}`).toString('base64url') }
        : {}),
    };
  }

  async patch(
    p: Principal,
    id: string,
    patch: { title?: string | undefined; defaultTtlSeconds?: number | null | undefined },
  ) {
    const { conv, me } = await this.member(p, id);
    if (conv.type === 'group') this.requireRole(me, ['owner', 'admin'], 'changing a group');
    const set: Partial<Conversation> = { updatedAt: new Date().toISOString() };
    const unset: string[] = [];
    if (patch.title !== undefined) set.title = patch.title;
    if (patch.defaultTtlSeconds === null) unset.push('defaultTtlSeconds');
    else if (patch.defaultTtlSeconds !== undefined) set.defaultTtlSeconds = patch.defaultTtlSeconds;
    const updated = await this.store.conversations.updateOne(
      { _id: id },
      { $set: set, ...(unset.length ? { $unset: unset } : {}) },
    );
    await this.emit('conversation.updated', id, {
      change: 'updated',
      fields: [...Object.keys(set), ...unset],
    });
    return this.view(p, updated!, me, true);
  }

  async addMembers(p: Principal, id: string, usernames: string[]) {
    const { conv, me } = await this.member(p, id);
    if (conv.type === 'direct') throw P.NOT_ALLOWED_BY_ROLE('direct conversations have exactly two members');
    this.requireRole(me, ['owner', 'admin'], 'adding members');
    const users = await this.resolveUsers(usernames);
    await this.refuseBlockers(
      p,
      users.map((u) => u._id),
    );
    const current = await this.store.members.count({ conversationId: id });
    if (current + users.length > this.opts.memberCap)
      throw P.MEMBER_CAP_REACHED(`at most ${this.opts.memberCap} members`);
    const now = new Date().toISOString();
    for (const u of users)
      if (await this.addMember(id, u._id, { role: 'member', at: now, pending: true }))
        await this.emit('member.added', id, { userId: u._id, by: p.userId });
    return this.view(p, conv, me, true);
  }

  async removeMember(p: Principal, id: string, userId: string): Promise<void> {
    const { conv, me } = await this.member(p, id);
    const target = await this.store.membership(id, userId);
    if (!target) throw P.USER_NOT_FOUND('not a member');
    if (userId !== p.userId) {
      if (conv.type === 'direct')
        throw P.NOT_ALLOWED_BY_ROLE('direct conversations have exactly two members');
      this.requireRole(me, ['owner', 'admin'], 'removing members');
      if (target.role === 'owner' || (target.role === 'admin' && me.role !== 'owner'))
        throw P.NOT_ALLOWED_BY_ROLE(`a ${me.role} cannot remove a ${target.role}`);
    }
    // Removal event first, so the leaving member still receives it.
    await this.emit('member.removed', id, { userId, by: p.userId });
    await this.store.members.deleteMany({ _id: target._id });
    if (target.role === 'owner') {
      // The group keeps an owner: the longest-standing admin, else member, takes over.
      const rest = await this.store.members.find(
        { conversationId: id },
        { sort: [['joinedAt', 1]], limit: 1000 },
      );
      const heir = rest.find((m) => m.role === 'admin') ?? rest[0];
      if (heir) await this.store.members.updateOne({ _id: heir._id }, { $set: { role: 'owner' } });
    }
  }

  async setRole(p: Principal, id: string, userId: string, role: 'admin' | 'member') {
    const { conv, me } = await this.member(p, id);
    if (conv.type === 'direct') throw P.NOT_ALLOWED_BY_ROLE('direct conversations have no roles');
    this.requireRole(me, ['owner'], 'changing roles');
    const target = await this.store.membership(id, userId);
    if (!target) throw P.USER_NOT_FOUND('not a member');
    if (target.role === 'owner') throw P.NOT_ALLOWED_BY_ROLE('the owner’s role cannot be changed');
    await this.store.members.updateOne({ _id: target._id }, { $set: { role } });
    await this.emit('conversation.updated', id, { change: 'role', userId, role });
    return this.view(p, conv, me, true);
  }

  async block(p: Principal, username: string, blocked: boolean): Promise<void> {
    const [user] = await this.resolveUsers([username]);
    const _id = `${p.userId}:${user!._id}`;
    if (blocked)
      await this.store.insertIfAbsent(this.store.blocks, {
        _id,
        blockerId: p.userId,
        blockedId: user!._id,
        at: new Date().toISOString(),
      });
    else await this.store.blocks.deleteMany({ _id });
  }

  async send(
    p: Principal,
    conversationId: string,
    input: {
      clientMsgId: string;
      body?: string | undefined;
      ciphertext?: string | undefined;
      replyTo?: string | undefined;
      ttlSeconds?: number | undefined;
    },
    waitPersisted: boolean,
    /** Skip the read that answers a re-send from the store (the socket path: the id is the same). */
    skipStoredCheck = false,
  ): Promise<
    { status: 'accepted'; id: string } | { status: 'persisted'; message: ReturnType<typeof messageView> }
  > {
    const id = messageIdFor(conversationId, p.userId, input.clientMsgId);
    // Two rounds of independent reads instead of four in a row; nothing is used before the
    // membership check passes, so a non-member learns nothing.
    const [{ conv, me }, stored] = await Promise.all([
      this.member(p, conversationId),
      skipStoredCheck ? null : this.store.messages.findById(id),
    ]);
    const other = conv.type === 'direct' ? conv.directKey!.split(':').find((u) => u !== p.userId) : undefined;
    const [blocked, parent] = await Promise.all([
      other ? this.store.isBlocked(other, p.userId) : false,
      input.replyTo ? this.store.messages.findById(input.replyTo) : undefined,
    ]);
    if (blocked) throw P.BLOCKED();
    // Replying accepts a conversation request.
    if (me.pending) await this.markAccepted(me);
    if (
      parent !== undefined &&
      (!parent || parent.conversationId !== conversationId || parent.expiresAt <= Date.now())
    )
      throw P.MESSAGE_NOT_FOUND('replyTo is not a message of this conversation');
    // A re-send of a stored message is answered with it (id and seq) and broadcasts nothing (#18).
    // Only if its event never went out (a crash in between) does the command go again, for the
    // worker to announce it. Either way it costs no token.
    if (stored && (await this.store.announced(stored)))
      return { status: 'persisted', message: messageView(stored) };
    const quota = stored ? { allowed: true, retryAfterMs: 0 } : await this.takeSend(p.userId);
    if (!quota.allowed)
      throw tooMany(
        `at most ${this.opts.sendRatePerMinute} messages per minute (bursts of ${this.opts.sendBurst})`,
        Math.max(1, Math.ceil(quota.retryAfterMs / 1000)),
      );
    const ttl = input.ttlSeconds ?? conv.defaultTtlSeconds;
    const now = Date.now();
    const command: SendCommand = {
      type: 'message.send',
      version: 1,
      id,
      conversationId,
      senderId: p.userId,
      clientMsgId: input.clientMsgId,
      ...(input.body !== undefined ? { body: input.body } : {}),
      ...(input.ciphertext !== undefined ? { ciphertext: input.ciphertext } : {}),
      ...(input.replyTo ? { replyTo: input.replyTo } : {}),
      ...(ttl ? { expiresAt: now + ttl * 1000 } : {}),
      acceptedAt: now,
      ...(waitPersisted ? { notify: this.persistedChannel } : {}),
    };
    // Registered before producing, so a fast worker cannot notify before we listen.
    const waiter = waitPersisted && !stored ? this.waitPersisted(id, this.opts.persistWaitMs) : undefined;
    try {
      await this.log.produce(this.opts.topicMessages, [
        { key: conversationId, value: JSON.stringify(command), headers: { 'command-type': 'message.send' } },
      ]);
    } catch (err) {
      waiter?.cancel();
      this.logger.warn({ err, conversationId, messageId: id }, 'produce failed');
      throw P.SEND_FAILED();
    }
    if (stored) return { status: 'persisted', message: messageView(stored) };
    if (!waitPersisted) return { status: 'accepted', id };
    if (!waiter) return { status: 'accepted', id };
    await waiter.done;
    // One read after the notification (or the timeout): the store is the source of truth.
    const m = await this.store.messages.findById(id);
    return m ? { status: 'persisted', message: messageView(m) } : { status: 'accepted', id };
  }

  private async decorate(p: Principal, conv: Conversation, messages: Message[]) {
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
    const { conv } = await this.member(p, conversationId);
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

  /** A message the caller may see, with its conversation and the caller's membership. */
  async visibleMessage(p: Principal, messageId: string) {
    const m = await this.store.messages.findById(messageId);
    if (!m || m.expiresAt <= Date.now()) throw P.MESSAGE_NOT_FOUND();
    const me = await this.store.membership(m.conversationId, p.userId);
    if (!me) throw P.MESSAGE_NOT_FOUND();
    const conv = (await this.store.conversations.findById(m.conversationId))!;
    return { m, me, conv };
  }

  async edit(p: Principal, messageId: string, body: string) {
    const { m, conv } = await this.visibleMessage(p, messageId);
    if (m.senderId !== p.userId) throw P.NOT_ALLOWED_BY_ROLE('only the sender edits a message');
    if (m.deleted) throw P.MESSAGE_DELETED();
    if (m.ciphertext !== undefined)
      throw P.MESSAGE_ENCRYPTED('encrypted messages are edited by sending a new ciphertext message');
    if (Date.now() - Date.parse(m.createdAt) > this.opts.editWindowSec * 1000)
      throw P.EDIT_WINDOW_PASSED(`messages can be edited for ${this.opts.editWindowSec} s`);
    const updated = await this.store.messages.updateOne(
      { _id: messageId },
      { $set: { body, editedAt: new Date().toISOString(), editCount: m.editCount + 1 } },
    );
    await unindexMessage(this.store, messageId);
    await indexMessage(this.store, updated!);
    const view = (await this.decorate(p, conv, [updated!]))[0]!;
    await this.emit('message.edited', m.conversationId, { message: messageView(updated!) });
    return view;
  }

  async remove(p: Principal, messageId: string): Promise<void> {
    const { m, me } = await this.visibleMessage(p, messageId);
    if (m.deleted) return;
    if (m.senderId !== p.userId && !['owner', 'admin'].includes(me.role))
      throw P.NOT_ALLOWED_BY_ROLE('only the sender or a group admin deletes a message');
    // A tombstone keeps id and seq so clients can update and paging has no gap.
    await this.store.messages.updateOne(
      { _id: messageId },
      {
        $set: { deleted: true, deletedAt: new Date().toISOString(), deletedBy: p.userId },
        $unset: ['body', 'ciphertext'],
      },
    );
    await this.store.reactions.deleteMany({ messageId });
    await unindexMessage(this.store, messageId);
    await this.emit('message.deleted', m.conversationId, { id: m._id, seq: m.seq, by: p.userId });
  }

  async replies(p: Principal, messageId: string) {
    const { conv } = await this.visibleMessage(p, messageId);
    const replies = await this.store.messages.find(
      { replyTo: messageId, ...this.store.visible() },
      { sort: [['seq', 1]], limit: 500 },
    );
    return { messages: await this.decorate(p, conv, replies) };
  }

  async react(p: Principal, messageId: string, emoji: string, on: boolean) {
    if (!EMOJI.test(emoji)) throw P.INVALID_EMOJI();
    const { m, conv } = await this.visibleMessage(p, messageId);
    if (m.deleted) throw P.MESSAGE_DELETED();
    const _id = `${messageId}:${p.userId}:${emoji}`;
    const changed = on
      ? await this.store.insertIfAbsent(this.store.reactions, {
          _id,
          messageId,
          conversationId: m.conversationId,
          userId: p.userId,
          emoji,
          at: new Date().toISOString(),
        })
      : (await this.store.reactions.deleteMany({ _id })) > 0;
    if (changed)
      await this.emit('reaction.changed', m.conversationId, { messageId, emoji, userId: p.userId, on });
    return (await this.decorate(p, conv, [m]))[0]!;
  }

  /**
   * Moves the caller's read (or only delivered) cursor forward, capped at the last stored seq.
   * Reading implies delivery; cursors never move back.
   */
  async receipt(p: Principal, conversationId: string, seq: number, kind: 'read' | 'delivered') {
    const { me } = await this.member(p, conversationId);
    const state = await this.store.states.findById(conversationId);
    const capped = Math.min(seq, state?.lastSeq ?? 0);
    const readSeq = kind === 'read' ? Math.max(capped, me.readSeq) : me.readSeq;
    const deliveredSeq = Math.max(capped, me.deliveredSeq, readSeq);
    if (readSeq !== me.readSeq || deliveredSeq !== me.deliveredSeq) {
      await this.store.members.updateOne({ _id: me._id }, { $set: { readSeq, deliveredSeq } });
      await this.emit('receipt.updated', conversationId, { userId: p.userId, readSeq, deliveredSeq });
    }
    return { readSeq, deliveredSeq };
  }

  async star(p: Principal, messageId: string, on: boolean): Promise<void> {
    const { m } = await this.visibleMessage(p, messageId);
    const _id = `${p.userId}:${messageId}`;
    if (on)
      await this.store.insertIfAbsent(this.store.stars, {
        _id,
        userId: p.userId,
        messageId,
        conversationId: m.conversationId,
        at: new Date().toISOString(),
      });
    else await this.store.stars.deleteMany({ _id });
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
      await this.member(p, query.conversationId);
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
    const decorated = new Map<string, Awaited<ReturnType<Chat['decorate']>>[number]>();
    for (const [cid, ms] of byConv) {
      const conv = (await this.store.conversations.findById(cid))!;
      for (const d of await this.decorate(p, conv, ms)) decorated.set(d.id, d);
    }
    return {
      messages: found.messages.map((m) => decorated.get(m._id)!),
      ...(found.more ? { nextCursor: Buffer.from(`o:${offset + limit}`).toString('base64url') } : {}),
    };
  }

  /** Deletes expired messages; idempotent, so any number of replicas may run it. */
  async sweepExpired(now = Date.now()): Promise<number> {
    const expired = await this.store.messages.find({ expiresAt: q.lte(now) }, { limit: 1000 });
    if (expired.length === 0) return 0;
    const ids = expired.map((m) => m._id);
    await this.store.reactions.deleteMany({ messageId: q.in(ids) });
    await this.store.stars.deleteMany({ messageId: q.in(ids) });
    await this.store.terms.deleteMany({ messageId: q.in(ids) });
    return this.store.messages.deleteMany({ _id: q.in(ids) });
  }
}
