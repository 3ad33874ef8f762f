import type { ChatEventFrame } from './frames.ts';
import type { Message } from './types.ts';

/** A conversation as the events built it: messages by id, reactions, receipts, members. */
export interface ConversationState {
  messages: Map<string, Message>;
  /** Message id → emoji → the users who reacted with it. */
  reactions: Map<string, Map<string, Set<string>>>;
  receipts: Map<string, { readSeq: number; deliveredSeq: number }>;
  members: Set<string>;
  /** Roles changed by events (user id → admin or member). */
  roles: Map<string, string>;
  /** Fields (title, …) changed since `load`: the event names them; read their values over REST. */
  changedFields: Set<string>;
}

/**
 * A local copy of conversations kept current from chat events, live or replayed by a resume:
 * feed it every `event` of a ParleySocket (which drops duplicates); applying one twice changes
 * nothing anyway. Seed it from REST (`load`) and reload a conversation on the socket's `refetch`.
 */
export class ChatReplica {
  private readonly byId = new Map<string, ConversationState>();

  /** `userId`: the signed-in user; its own `member.removed` drops the conversation. */
  constructor(private readonly opts: { userId?: string } = {}) {}

  /** The state of a conversation (empty until loaded or until an event arrives). */
  conversation(conversationId: string): ConversationState {
    let c = this.byId.get(conversationId);
    if (!c) {
      c = {
        messages: new Map(),
        reactions: new Map(),
        receipts: new Map(),
        members: new Set(),
        roles: new Map(),
        changedFields: new Set(),
      };
      this.byId.set(conversationId, c);
    }
    return c;
  }

  /** Replaces what is known of a conversation with what REST returned (after `refetch`, or at start). */
  load(conversationId: string, messages: readonly Message[], memberIds: readonly string[]): void {
    this.byId.delete(conversationId);
    const c = this.conversation(conversationId);
    for (const m of messages) c.messages.set(m.id, m);
    for (const u of memberIds) c.members.add(u);
  }

  /** Stops tracking a conversation. */
  drop(conversationId: string): void {
    this.byId.delete(conversationId);
  }

  /** Applies one chat event. */
  apply(f: ChatEventFrame): void {
    const c = this.conversation(f.conversationId);
    switch (f.type) {
      case 'message.created':
        // A replay after an edit or deletion carries the current text or the tombstone.
        return void c.messages.set(f.data.id, f.data);
      case 'message.edited':
        return void c.messages.set(f.data.message.id, f.data.message);
      case 'message.deleted': {
        const m = c.messages.get(f.data.id);
        if (m) {
          const { body: _b, ciphertext: _c, ...rest } = m;
          c.messages.set(f.data.id, { ...rest, deleted: true, deletedAt: f.occurredAt });
        }
        return void c.reactions.delete(f.data.id);
      }
      case 'reaction.changed': {
        const { messageId, emoji, userId, on } = f.data;
        if (c.messages.get(messageId)?.deleted) return;
        const byEmoji = c.reactions.get(messageId) ?? new Map<string, Set<string>>();
        const users = byEmoji.get(emoji) ?? new Set<string>();
        if (on) users.add(userId);
        else users.delete(userId);
        if (users.size) byEmoji.set(emoji, users);
        else byEmoji.delete(emoji);
        if (byEmoji.size) c.reactions.set(messageId, byEmoji);
        else c.reactions.delete(messageId);
        return;
      }
      case 'receipt.updated': {
        const { userId, readSeq, deliveredSeq } = f.data;
        const had = c.receipts.get(userId);
        // Cursors never move back: an older event arriving late changes nothing.
        c.receipts.set(userId, {
          readSeq: Math.max(readSeq, had?.readSeq ?? 0),
          deliveredSeq: Math.max(deliveredSeq, had?.deliveredSeq ?? 0),
        });
        return;
      }
      case 'member.added':
        return void c.members.add(f.data.userId);
      case 'member.removed':
        if (f.data.userId === this.opts.userId) return this.drop(f.conversationId);
        c.members.delete(f.data.userId);
        c.roles.delete(f.data.userId);
        return void c.receipts.delete(f.data.userId);
      case 'conversation.updated': {
        const d = f.data as { change: string; userId?: string; role?: string; fields?: string[] };
        if (d.change === 'role' && d.userId && d.role) c.roles.set(d.userId, d.role);
        if (d.change === 'updated') for (const field of d.fields ?? []) c.changedFields.add(field);
        return;
      }
    }
  }
}
