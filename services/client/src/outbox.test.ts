import { expect } from 'chai';
import { Outbox } from './outbox.ts';

const C = 'c0000000-0000-4000-8000-000000000001';
const ack = (clientMsgId: string) =>
  ({ type: 'ack', for: 'send', messageId: `id-${clientMsgId}`, conversationId: C, clientMsgId }) as const;

describe('Outbox', () => {
  it('keeps unacked sends in order with their clientMsgId for re-sending', () => {
    const o = new Outbox();
    void o.add(C, { clientMsgId: 'k1', body: 'one' });
    void o.add(C, { clientMsgId: 'k2', body: 'two' });
    expect(o.frames().map((f) => [f.type, f.clientMsgId, f.body])).to.deep.equal([
      ['send', 'k1', 'one'],
      ['send', 'k2', 'two'],
    ]);
    // The same frames (same clientMsgId) come out again until acknowledged: the server stores once.
    expect(o.frames().map((f) => f.clientMsgId)).to.deep.equal(['k1', 'k2']);
  });

  it('resolves each send with its ack and drops it', async () => {
    const o = new Outbox();
    const p = o.add(C, { clientMsgId: 'k1', body: 'one' });
    expect(o.ack(ack('k1'))).to.equal(true);
    expect((await p).messageId).to.equal('id-k1');
    expect(o.size).to.equal(0);
    expect(o.ack(ack('k1'))).to.equal(false); // a second ack (re-send) is ignored
  });

  it('shares one entry between two sends with the same clientMsgId', async () => {
    const o = new Outbox();
    const p1 = o.add(C, { clientMsgId: 'k1', body: 'one' });
    const p2 = o.add(C, { clientMsgId: 'k1', body: 'one' });
    expect(o.size).to.equal(1);
    o.ack(ack('k1'));
    expect([(await p1).clientMsgId, (await p2).clientMsgId]).to.deep.equal(['k1', 'k1']);
  });

  it('maps an error frame id back to its send and rejects it for good', async () => {
    const o = new Outbox();
    const p = o.add(C, { clientMsgId: 'k1', body: 'one' });
    const id = o.frame('k1')!.id;
    expect(o.clientMsgIdOf(id)).to.equal('k1');
    o.fail('k1', new Error('CONVERSATION_NOT_FOUND'));
    expect(await p.catch((e: Error) => e.message)).to.equal('CONVERSATION_NOT_FOUND');
    expect(o.size).to.equal(0);
  });

  it('rejects everything on rejectAll', async () => {
    const o = new Outbox();
    const ps = [o.add(C, { clientMsgId: 'a', body: 'x' }), o.add(C, { clientMsgId: 'b', body: 'y' })];
    o.rejectAll(new Error('socket closed'));
    expect(await Promise.all(ps.map((p) => p.catch((e: Error) => e.message)))).to.deep.equal([
      'socket closed',
      'socket closed',
    ]);
  });
});
