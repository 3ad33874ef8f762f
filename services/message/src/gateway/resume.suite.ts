import { expect } from 'chai';
import { waitFor } from '@parley/common';
import { TestSocket, type Frame } from '@parley/common/testing';
import { MessageHarness, type Res } from '../testing/harness.ts';

/**
 * Resume replays every kind of event (#21 item 3): messages and the change log (edits, deletions,
 * reactions, receipts, membership), in order, once, within WS_RESUME_MAX_EVENTS; past it the
 * client is told to refetch. Run embedded (resume.embedded.int.test.ts) and on the real stack (resume.int.test.ts).
 */
export function resumeSuite(name: string, stackEnv: () => Record<string, string>): void {
  describe(`resume replays every event: ${name}`, function () {
    this.timeout(90_000);
    const h = new MessageHarness(stackEnv);
    const sockets: TestSocket[] = [];
    before(() => h.start());
    after(async () => {
      for (const s of sockets) s.ws.terminate();
      await h.stop();
    });

    const connect = async (token: string, on = h.running) => {
      const s = await TestSocket.bearer(on.url, token);
      sockets.push(s);
      return s;
    };
    const ok = async (res: Promise<Res>) => {
      const r = await res;
      expect(r.statusCode, r.body).to.be.lessThan(300);
      return r;
    };
    /** A group of a (owner), b and c, with two messages from a. */
    const group = async () => {
      const [a, b, c] = [await h.user(), await h.user(), await h.user()];
      const conv = (
        await ok(
          h.call('POST', '/v1/conversations', {
            token: a.token,
            body: { type: 'group', title: 'resume', members: [b.username, c.username] },
          }),
        )
      ).json().id as string;
      const m1 = (await ok(h.send(a.token, conv, { clientMsgId: 'm1', body: 'first' }))).json();
      const m2 = (await ok(h.send(a.token, conv, { clientMsgId: 'm2', body: 'second' }))).json();
      return { a, b, c, conv, m1, m2 };
    };
    /** Resumes and returns the frames of that conversation up to `resumed`, and `resumed`. */
    const resume = async (s: TestSocket, conv: string, cursor: unknown, id: string) => {
      const from = s.frames.length;
      s.send({ type: 'resume', id, cursors: { [conv]: cursor } });
      const done = await s.next('resumed', { id }, 30_000);
      const frames = s.frames.slice(from, s.frames.indexOf(done)).filter((f) => f.conversationId === conv);
      return { frames, done };
    };
    const summary = (f: Frame) => {
      const d = f.data as Record<string, unknown>;
      if (f.type === 'message.created') return `created ${String(d.seq)}`;
      if (f.type === 'message.edited') return `edited ${String((d.message as { body: string }).body)}`;
      if (f.type === 'message.deleted') return `deleted ${String(d.seq)}`;
      if (f.type === 'reaction.changed') return `reaction ${String(d.emoji)} ${String(d.on)}`;
      return `${f.type} ${String(d.userId ?? d.change)}`;
    };

    it('replays an edit, a delete, a reaction and a member removal made while the client was away, in order and once', async () => {
      const { a, b, c, conv, m1, m2 } = await group();
      // Bob is up to date, then goes away.
      const first = await connect(b.token);
      const start = await resume(first, conv, { seq: 0, pos: 0 }, 'r0');
      expect(start.frames.filter((f) => f.type === 'message.created')).to.have.length(2);
      const pos = (start.done.positions as Record<string, number>)[conv]!;
      expect(pos).to.be.a('number');
      first.ws.close();

      await ok(
        h.call('PATCH', '/v1/messages/:id', {
          token: a.token,
          params: { id: m1.id },
          body: { body: 'first, edited' },
        }),
      );
      await ok(h.send(a.token, conv, { clientMsgId: 'm3', body: 'third' }));
      await ok(h.call('DELETE', '/v1/messages/:id', { token: a.token, params: { id: m2.id } }));
      await ok(
        h.call('PUT', '/v1/messages/:id/reactions/:emoji', {
          token: c.token,
          params: { id: m1.id, emoji: '👍' },
        }),
      );
      await ok(
        h.call('DELETE', '/v1/conversations/:id/members/:userId', {
          token: a.token,
          params: { id: conv, userId: c.id },
        }),
      );

      const back = await connect(b.token);
      const { frames, done } = await resume(back, conv, { seq: 2, pos }, 'r1');
      expect(frames.map(summary)).to.deep.equal([
        'edited first, edited',
        'created 3',
        'deleted 2',
        'reaction 👍 true',
        `member.removed ${c.id}`,
      ]);
      expect(frames.every((f) => f.replay === true)).to.equal(true);
      const changes = frames.filter((f) => f.type !== 'message.created');
      expect(changes.map((f) => f.pos)).to.deep.equal([pos + 1, pos + 2, pos + 3, pos + 4]);
      expect(done.conversations).to.deep.equal({ [conv]: 3 });
      expect(done.positions).to.deep.equal({ [conv]: pos + 4 });
      expect(done).to.not.have.property('refetch');

      // Resuming again from where it ended replays nothing: no duplicates.
      const again = await resume(back, conv, { seq: 3, pos: pos + 4 }, 'r2');
      expect(again.frames.map(summary)).to.deep.equal([]);
      // A live change after the resume carries the next position.
      await ok(
        h.call('PATCH', '/v1/messages/:id', { token: a.token, params: { id: m1.id }, body: { body: 'x' } }),
      );
      const live = await back.next('message.edited', { pos: pos + 5 }, 20_000);
      expect(live).to.not.have.property('replay');
    });

    it('tells a member removed while away of its own removal and nothing else; a stranger gets CONVERSATION_NOT_FOUND', async () => {
      const { a, c, conv } = await group();
      const first = await connect(c.token);
      const start = await resume(first, conv, { seq: 0, pos: 0 }, 'o0');
      const pos = (start.done.positions as Record<string, number>)[conv]!;
      first.ws.close();

      await ok(h.send(a.token, conv, { clientMsgId: 'after-1', body: 'before the removal' }));
      await ok(
        h.call('DELETE', '/v1/conversations/:id/members/:userId', {
          token: a.token,
          params: { id: conv, userId: c.id },
        }),
      );
      await ok(h.send(a.token, conv, { clientMsgId: 'after-2', body: 'after the removal' }));

      const back = await connect(c.token);
      const { frames, done } = await resume(back, conv, { seq: 2, pos }, 'o1');
      expect(frames.map(summary)).to.deep.equal([`member.removed ${c.id}`]);
      expect(frames[0]).to.include({ replay: true, pos: pos + 1 });
      expect(done.conversations).to.deep.equal({});
      expect(done.positions).to.deep.equal({ [conv]: pos + 1 });
      expect(back.frames.filter((f) => f.type === 'error')).to.deep.equal([]);

      // Someone never in it learns nothing, whatever position it claims.
      const stranger = await connect((await h.user()).token);
      stranger.send({ type: 'resume', id: 's1', cursors: { [conv]: { seq: 0, pos: 0 } } });
      const err = await stranger.next('error', { id: 's1' }, 20_000);
      expect(err).to.include({ code: 'CONVERSATION_NOT_FOUND' });
      expect(stranger.frames.filter((f) => f.type !== 'error' && f.conversationId === conv)).to.deep.equal(
        [],
      );
    });

    it('replays an edit with the message as it is now, and none for a message that disappeared since', async () => {
      const { a, b, conv, m1 } = await group();
      const first = await connect(b.token);
      const pos = (
        (await resume(first, conv, { seq: 2, pos: 0 }, 'd0')).done.positions as Record<string, number>
      )[conv]!;
      first.ws.close();
      // Edited first, and given 10 s: CI runs under load saw 1 s and then 3 s expire before the edit.
      const brief = (
        await ok(h.send(a.token, conv, { clientMsgId: 'm3', body: 'brief', ttlSeconds: 10 }))
      ).json();
      for (const [id, body] of [
        [brief.id, 'gone soon'],
        [m1.id, 'one'],
        [m1.id, 'two'],
      ])
        await ok(h.call('PATCH', '/v1/messages/:id', { token: a.token, params: { id }, body: { body } }));
      const expiry = Date.parse(brief.expiresAt as string);
      await waitFor(() => Date.now() > expiry, { timeoutMs: 20_000, what: 'the message to expire' });
      const back = await connect(b.token);
      const { frames, done } = await resume(back, conv, { seq: 3, pos }, 'd1');
      expect(frames.map(summary)).to.deep.equal(['edited two', 'edited two']);
      expect(done.positions).to.deep.equal({ [conv]: pos + 3 });
    });

    it('tells the client to refetch when more changes than WS_RESUME_MAX_EVENTS wait', async () => {
      const capped = await h.boot({ WS_RESUME_MAX_EVENTS: '2', PORT: '0', MANAGEMENT_PORT: '0' });
      try {
        const { a, b, conv, m1 } = await group();
        for (const emoji of ['👍', '🎉', '🔥'])
          await ok(
            h.call('PUT', '/v1/messages/:id/reactions/:emoji', {
              token: a.token,
              params: { id: m1.id, emoji },
            }),
          );
        const s = await connect(b.token, capped);
        const { frames, done } = await resume(s, conv, { seq: 2, pos: 0 }, 'cap');
        expect(frames.map(summary)).to.deep.equal([]);
        expect(done.refetch).to.deep.equal([conv]);
        const head = (done.positions as Record<string, number>)[conv]!;
        expect(head).to.be.greaterThan(2);
        // From the head it hands back, nothing is left to replay.
        const next = await resume(s, conv, { seq: 2, pos: head }, 'cap2');
        expect(next.frames).to.deep.equal([]);
        expect(next.done).to.not.have.property('refetch');
      } finally {
        await capped.stop('test');
      }
    });

    it('still answers a bare seq cursor with the messages alone, and the position to go on from', async () => {
      const { a, b, conv, m1 } = await group();
      await ok(
        h.call('PATCH', '/v1/messages/:id', {
          token: a.token,
          params: { id: m1.id },
          body: { body: 'edited' },
        }),
      );
      const s = await connect(b.token);
      const { frames, done } = await resume(s, conv, 1, 'bare');
      expect(frames.map(summary)).to.deep.equal(['created 2']);
      expect((done.positions as Record<string, number>)[conv]).to.be.greaterThan(0);
    });
  });
}
