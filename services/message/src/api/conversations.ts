import { randomUUID } from 'node:crypto';
import type { Principal } from '@parley/common';
import type { Access } from '../domain/access.ts';
import { messageProblems as P } from '../domain/errors.ts';
import type { Conversation, MessageStore, Role } from '../domain/store.ts';
import type { Views } from '../read/views.ts';
import type { ChatEvents } from './events.ts';
import type { SendChecks } from './sendchecks.ts';

/**
 * Conversation and membership writes: create (direct chats once per pair), accept, rename,
 * members and roles, blocks. Each change is stored, then announced on `chat.events`.
 */
export class Conversations {
  constructor(
    private readonly store: MessageStore,
    private readonly access: Access,
    private readonly views: Views,
    private readonly events: ChatEvents,
    private readonly opts: { memberCap: number },
    /** Forgotten on every change that can refuse a send (removal, block, conversation update). */
    private readonly sendChecks: SendChecks,
  ) {}

  async create(
    p: Principal,
    input: {
      type: 'direct' | 'group';
      members: string[];
      title?: string | undefined;
      defaultTtlSeconds?: number | undefined;
    },
  ): Promise<{ conv: Conversation; created: boolean }> {
    const users = (await this.access.resolveUsers(input.members)).filter((u) => u._id !== p.userId);
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
      await this.events.emit('conversation.updated', conv._id, {
        conversation: { id: conv._id, type: 'direct' },
        change: 'created',
      });
      return { conv, created: true };
    }
    if (users.length + 1 > this.opts.memberCap)
      throw P.MEMBER_CAP_REACHED(`at most ${this.opts.memberCap} members`);
    await this.access.refuseBlockers(
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
    await this.events.emit('conversation.updated', conv._id, {
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

  /** Accepts a conversation request: the member's presence is shared there from now on. */
  async accept(p: Principal, conversationId: string) {
    const { conv, me } = await this.access.member(p, conversationId);
    const accepted = await this.access.markAccepted(me);
    return this.views.view(p, conv, accepted, { withMembers: true });
  }

  async patch(
    p: Principal,
    id: string,
    patch: { title?: string | undefined; defaultTtlSeconds?: number | null | undefined },
  ) {
    const { conv, me } = await this.access.member(p, id);
    if (conv.type === 'group') this.access.requireRole(me, ['owner', 'admin'], 'changing a group');
    const set: Partial<Conversation> = { updatedAt: new Date().toISOString() };
    const unset: string[] = [];
    if (patch.title !== undefined) set.title = patch.title;
    if (patch.defaultTtlSeconds === null) unset.push('defaultTtlSeconds');
    else if (patch.defaultTtlSeconds !== undefined) set.defaultTtlSeconds = patch.defaultTtlSeconds;
    const updated = await this.store.conversations.updateOne(
      { _id: id },
      { $set: set, ...(unset.length ? { $unset: unset } : {}) },
    );
    await this.sendChecks.invalidate({ conversationId: id });
    await this.events.emit('conversation.updated', id, {
      change: 'updated',
      fields: [...Object.keys(set), ...unset],
    });
    return this.views.view(p, updated!, me, { withMembers: true });
  }

  async addMembers(p: Principal, id: string, usernames: string[]) {
    const { conv, me } = await this.access.member(p, id);
    if (conv.type === 'direct') throw P.NOT_ALLOWED_BY_ROLE('direct conversations have exactly two members');
    this.access.requireRole(me, ['owner', 'admin'], 'adding members');
    const users = await this.access.resolveUsers(usernames);
    await this.access.refuseBlockers(
      p,
      users.map((u) => u._id),
    );
    const current = await this.store.members.count({ conversationId: id });
    if (current + users.length > this.opts.memberCap)
      throw P.MEMBER_CAP_REACHED(`at most ${this.opts.memberCap} members`);
    const now = new Date().toISOString();
    for (const u of users)
      if (await this.addMember(id, u._id, { role: 'member', at: now, pending: true })) {
        // The workers' recipients cache forgets the conversation's members (worker/recipients.ts).
        await this.sendChecks.invalidate({ conversationId: id, userId: u._id });
        await this.events.emit('member.added', id, { userId: u._id, by: p.userId });
      }
    return this.views.view(p, conv, me, { withMembers: true });
  }

  async removeMember(p: Principal, id: string, userId: string): Promise<void> {
    const { conv, me } = await this.access.member(p, id);
    const target = await this.store.membership(id, userId);
    if (!target) throw P.USER_NOT_FOUND('not a member');
    if (userId !== p.userId) {
      if (conv.type === 'direct')
        throw P.NOT_ALLOWED_BY_ROLE('direct conversations have exactly two members');
      this.access.requireRole(me, ['owner', 'admin'], 'removing members');
      if (target.role === 'owner' || (target.role === 'admin' && me.role !== 'owner'))
        throw P.NOT_ALLOWED_BY_ROLE(`a ${me.role} cannot remove a ${target.role}`);
    }
    // Removal event first, so the leaving member still receives it.
    await this.events.emit('member.removed', id, { userId, by: p.userId });
    await this.store.members.deleteMany({ _id: target._id });
    await this.sendChecks.invalidate({ conversationId: id, userId });
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
    const { conv, me } = await this.access.member(p, id);
    if (conv.type === 'direct') throw P.NOT_ALLOWED_BY_ROLE('direct conversations have no roles');
    this.access.requireRole(me, ['owner'], 'changing roles');
    const target = await this.store.membership(id, userId);
    if (!target) throw P.USER_NOT_FOUND('not a member');
    if (target.role === 'owner') throw P.NOT_ALLOWED_BY_ROLE('the owner’s role cannot be changed');
    await this.store.members.updateOne({ _id: target._id }, { $set: { role } });
    await this.events.emit('conversation.updated', id, { change: 'role', userId, role });
    return this.views.view(p, conv, me, { withMembers: true });
  }

  async block(p: Principal, username: string, blocked: boolean): Promise<void> {
    const [user] = await this.access.resolveUsers([username]);
    const _id = `${p.userId}:${user!._id}`;
    if (blocked)
      await this.store.insertIfAbsent(this.store.blocks, {
        _id,
        blockerId: p.userId,
        blockedId: user!._id,
        at: new Date().toISOString(),
      });
    else await this.store.blocks.deleteMany({ _id });
    // The blocked user's sends to the blocker are refused from now on (and allowed after unblocking).
    await this.sendChecks.invalidate({ userId: user!._id });
  }
}
