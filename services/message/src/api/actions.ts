import type { Principal } from '@parley/common';
import type { Access } from '../domain/access.ts';
import { messageProblems as P } from '../domain/errors.ts';
import { indexMessage, unindexMessage } from '../domain/search.ts';
import type { MessageStore } from '../domain/store.ts';
import { messageView } from '../domain/view.ts';
import type { Views } from '../read/views.ts';
import type { ChatEvents } from './events.ts';

const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\u200d|\ufe0f){1,8}$/u;

/**
 * Writes on stored messages: edit, delete (a tombstone), reactions, read and delivered receipts,
 * stars. Stored directly (the message already has its seq), then announced on `chat.events`.
 */
export class MessageActions {
  constructor(
    private readonly store: MessageStore,
    private readonly access: Access,
    private readonly views: Views,
    private readonly events: ChatEvents,
    private readonly opts: { editWindowSec: number },
  ) {}

  async edit(p: Principal, messageId: string, body: string) {
    const { m, conv } = await this.access.visibleMessage(p, messageId);
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
    await unindexMessage(this.store, m);
    await indexMessage(this.store, updated!);
    const view = (await this.views.decorate(p, conv, [updated!]))[0]!;
    await this.events.emit('message.edited', m.conversationId, { message: messageView(updated!) }, m.seq);
    return view;
  }

  async remove(p: Principal, messageId: string): Promise<void> {
    const { m, me } = await this.access.visibleMessage(p, messageId);
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
    await unindexMessage(this.store, m);
    await this.events.emit(
      'message.deleted',
      m.conversationId,
      { id: m._id, seq: m.seq, by: p.userId },
      m.seq,
    );
  }

  async react(p: Principal, messageId: string, emoji: string, on: boolean) {
    if (!EMOJI.test(emoji)) throw P.INVALID_EMOJI();
    const { m, conv } = await this.access.visibleMessage(p, messageId);
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
      await this.events.emit(
        'reaction.changed',
        m.conversationId,
        { messageId, emoji, userId: p.userId, on },
        m.seq,
      );
    return (await this.views.decorate(p, conv, [m]))[0]!;
  }

  /**
   * Moves the caller's read (or only delivered) cursor forward, capped at the last stored seq.
   * Reading implies delivery; cursors never move back.
   */
  async receipt(p: Principal, conversationId: string, seq: number, kind: 'read' | 'delivered') {
    const { me } = await this.access.member(p, conversationId);
    const state = await this.store.states.findById(conversationId);
    const capped = Math.min(seq, state?.lastSeq ?? 0);
    const readSeq = kind === 'read' ? Math.max(capped, me.readSeq) : me.readSeq;
    const deliveredSeq = Math.max(capped, me.deliveredSeq, readSeq);
    if (readSeq !== me.readSeq || deliveredSeq !== me.deliveredSeq) {
      await this.store.members.updateOne({ _id: me._id }, { $set: { readSeq, deliveredSeq } });
      await this.events.emit('receipt.updated', conversationId, { userId: p.userId, readSeq, deliveredSeq });
    }
    return { readSeq, deliveredSeq };
  }

  async star(p: Principal, messageId: string, on: boolean): Promise<void> {
    const { m } = await this.access.visibleMessage(p, messageId);
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
}
