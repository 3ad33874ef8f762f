import { expect } from 'chai';
import type { ChatEventFrame } from './frames.ts';
import { ChatReplica } from './replica.ts';
import type { Message } from './types.ts';

const C = 'c0000000-0000-4000-8000-000000000001';
const at = '2026-01-01T00:00:00.000Z';
const m1: Message = {
  id: 'm1',
  conversationId: C,
  seq: 1,
  senderId: 'u1',
  clientMsgId: 'k1',
  body: 'hi',
  createdAt: at,
  editCount: 0,
};
const ev = (type: string, data: unknown, pos = 1) =>
  ({ type, eventId: `e${pos}`, conversationId: C, occurredAt: at, pos, data }) as ChatEventFrame;

describe('ChatReplica', () => {
  it('applies receipts forward only, reactions on and off, roles and changed fields', () => {
    const r = new ChatReplica();
    r.load(C, [m1], ['u1', 'u2']);
    r.apply(ev('receipt.updated', { userId: 'u2', readSeq: 3, deliveredSeq: 4 }));
    r.apply(ev('receipt.updated', { userId: 'u2', readSeq: 2, deliveredSeq: 2 }));
    r.apply(ev('reaction.changed', { messageId: 'm1', emoji: '🎉', userId: 'u2', on: true }));
    r.apply(ev('reaction.changed', { messageId: 'm1', emoji: '🎉', userId: 'u2', on: false }));
    r.apply(ev('conversation.updated', { change: 'role', userId: 'u2', role: 'admin' }));
    r.apply(ev('conversation.updated', { change: 'updated', fields: ['title'] }));
    const c = r.conversation(C);
    expect(c.receipts.get('u2')).to.deep.equal({ readSeq: 3, deliveredSeq: 4 });
    expect(c.reactions.has('m1')).to.equal(false);
    expect(c.roles.get('u2')).to.equal('admin');
    expect([...c.changedFields]).to.deep.equal(['title']);
  });

  it('changes nothing when the same event is applied twice, and ignores reactions to a deleted message', () => {
    const r = new ChatReplica();
    r.load(C, [m1], ['u1']);
    const deleted = ev('message.deleted', { id: 'm1', seq: 1, by: 'u1' });
    r.apply(deleted);
    r.apply(deleted);
    r.apply(ev('reaction.changed', { messageId: 'm1', emoji: '👍', userId: 'u1', on: true }));
    r.apply(ev('member.added', { userId: 'u3', by: 'u1' }));
    r.apply(ev('member.added', { userId: 'u3', by: 'u1' }));
    const c = r.conversation(C);
    expect(c.messages.get('m1')).to.include({ deleted: true, deletedAt: at }).and.not.have.property('body');
    expect(c.reactions.size).to.equal(0);
    expect([...c.members]).to.deep.equal(['u1', 'u3']);
  });

  it("drops a conversation on the user's own removal, and only on it", () => {
    const r = new ChatReplica({ userId: 'u2' });
    r.load(C, [m1], ['u1', 'u2', 'u3']);
    r.apply(ev('member.removed', { userId: 'u3', by: 'u1' }, 1));
    expect([...r.conversation(C).members]).to.deep.equal(['u1', 'u2']);
    r.apply(ev('member.removed', { userId: 'u2', by: 'u1' }, 2));
    const fresh = r.conversation(C);
    expect(fresh.messages.size).to.equal(0);
    expect(fresh.members.size).to.equal(0);
  });
});
