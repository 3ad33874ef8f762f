import { expect } from 'chai';
import { PASSWORD, uname, type Json, type MessageHarness } from './harness.ts';

/** Edits, replies, reactions, receipts, stars, blocks and expiry. */
export function actionCases(h: MessageHarness): void {
  const { call, user, direct, send } = h;
  describe('messages: edits, replies, reactions, receipts, stars, blocks, expiry', () => {
    it('edits within the window (sender only) and deletes to a tombstone', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      const m = (await send(a.token, conv, { clientMsgId: 'e', body: 'typo' })).json();
      expect(
        (
          await call('PATCH', '/v1/messages/:id', {
            token: b.token,
            params: { id: m.id },
            body: { body: 'hijack' },
          })
        ).json().code,
      ).to.equal('NOT_ALLOWED_BY_ROLE');
      const edited = (
        await call('PATCH', '/v1/messages/:id', {
          token: a.token,
          params: { id: m.id },
          body: { body: 'fixed' },
        })
      ).json();
      expect(edited).to.include({ body: 'fixed', editCount: 1 });
      expect(edited.editedAt).to.be.a('string');
      expect(
        (await call('DELETE', '/v1/messages/:id', { token: b.token, params: { id: m.id } })).statusCode,
      ).to.equal(403);
      expect(
        (await call('DELETE', '/v1/messages/:id', { token: a.token, params: { id: m.id } })).statusCode,
      ).to.equal(204);
      const [tomb] = (
        await call('GET', '/v1/conversations/:id/messages', { token: b.token, params: { id: conv } })
      ).json().messages;
      expect(tomb).to.include({ id: m.id, seq: 1, deleted: true });
      expect(tomb).to.not.have.property('body');
      expect(
        (
          await call('PATCH', '/v1/messages/:id', {
            token: a.token,
            params: { id: m.id },
            body: { body: 'x' },
          })
        ).json().code,
      ).to.equal('MESSAGE_DELETED');
    });

    it('refuses an edit after the window', async () => {
      const strict = await h.boot({ EDIT_WINDOW_SECONDS: '0' });
      try {
        const reg = async () => {
          const username = uname();
          const r = await call('POST', '/v1/auth/register', {
            on: strict,
            body: { username, password: PASSWORD },
          });
          return { username, token: r.json().tokens.accessToken as string };
        };
        const [a, b] = [await reg(), await reg()];
        const conv = (
          await call('POST', '/v1/conversations', {
            on: strict,
            token: a.token,
            body: { type: 'direct', members: [b.username] },
          })
        ).json().id;
        const m = (
          await call('POST', '/v1/conversations/:id/messages', {
            on: strict,
            token: a.token,
            params: { id: conv },
            query: 'wait=persisted',
            body: { clientMsgId: '1', body: 'x' },
          })
        ).json();
        await new Promise((r) => setTimeout(r, 5));
        const res = await call('PATCH', '/v1/messages/:id', {
          on: strict,
          token: a.token,
          params: { id: m.id },
          body: { body: 'y' },
        });
        expect(res.json().code).to.equal('EDIT_WINDOW_PASSED');
      } finally {
        await strict.stop('test');
      }
    });

    it('threads replies and refuses a reply to another conversation’s message', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      const ab = await direct(a, b);
      const ac = await direct(a, c);
      const root = (await send(a.token, ab, { clientMsgId: 'r', body: 'root' })).json();
      await send(b.token, ab, { clientMsgId: 'r1', body: 'reply', replyTo: root.id });
      const replies = (
        await call('GET', '/v1/messages/:id/replies', { token: a.token, params: { id: root.id } })
      ).json().messages;
      expect(replies.map((m: Json) => m.body)).to.deep.equal(['reply']);
      expect(
        (await send(a.token, ac, { clientMsgId: 'x', body: 'cross', replyTo: root.id }, false)).json().code,
      ).to.equal('MESSAGE_NOT_FOUND');
      expect(
        (await call('GET', '/v1/messages/:id/replies', { token: c.token, params: { id: root.id } })).json()
          .code,
      ).to.equal('MESSAGE_NOT_FOUND');
    });

    it('counts reactions per emoji with whether you reacted, and refuses non-emoji', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      const m = (await send(a.token, conv, { clientMsgId: 'x', body: 'react to me' })).json();
      await call('PUT', '/v1/messages/:id/reactions/:emoji', {
        token: a.token,
        params: { id: m.id, emoji: '👍' },
      });
      const r = (
        await call('PUT', '/v1/messages/:id/reactions/:emoji', {
          token: b.token,
          params: { id: m.id, emoji: '👍' },
        })
      ).json();
      expect(r.reactions).to.deep.equal([{ emoji: '👍', count: 2, me: true }]);
      const after = (
        await call('DELETE', '/v1/messages/:id/reactions/:emoji', {
          token: a.token,
          params: { id: m.id, emoji: '👍' },
        })
      ).json();
      expect(after.reactions).to.deep.equal([{ emoji: '👍', count: 1, me: false }]);
      const lol = await call('PUT', '/v1/messages/:id/reactions/:emoji', {
        token: a.token,
        params: { id: m.id, emoji: 'lol' },
      });
      expect([lol.statusCode, lol.json().code]).to.deep.equal([422, 'INVALID_EMOJI']);
    });

    it('moves read cursors forward only, updates unread counts and direct-chat status', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      for (let i = 1; i <= 3; i++) await send(a.token, conv, { clientMsgId: String(i), body: `m${i}` });
      const view = async (t: string) =>
        (await call('GET', '/v1/conversations/:id', { token: t, params: { id: conv } })).json();
      expect((await view(b.token)).unreadCount).to.equal(3);
      expect(
        (
          await call('POST', '/v1/conversations/:id/read', {
            token: b.token,
            params: { id: conv },
            body: { seq: 2 },
          })
        ).json().readSeq,
      ).to.equal(2);
      expect(
        (
          await call('POST', '/v1/conversations/:id/read', {
            token: b.token,
            params: { id: conv },
            body: { seq: 1 },
          })
        ).json().readSeq,
      ).to.equal(2);
      expect(
        (
          await call('POST', '/v1/conversations/:id/read', {
            token: b.token,
            params: { id: conv },
            body: { seq: 99 },
          })
        ).json().readSeq,
      ).to.equal(3);
      expect((await view(b.token)).unreadCount).to.equal(0);
      const mine = (
        await call('GET', '/v1/conversations/:id/messages', { token: a.token, params: { id: conv } })
      ).json().messages;
      expect(mine.map((m: Json) => m.status)).to.deep.equal(['read', 'read', 'read']);
      // Delivered moves on its own, never back, and never behind read.
      await send(a.token, conv, { clientMsgId: '4', body: 'm4' });
      await send(a.token, conv, { clientMsgId: '5', body: 'm5' });
      const d = await call('POST', '/v1/conversations/:id/delivered', {
        token: b.token,
        params: { id: conv },
        body: { seq: 4 },
      });
      expect(d.json()).to.deep.equal({ readSeq: 3, deliveredSeq: 4 });
      const after = (
        await call('GET', '/v1/conversations/:id/messages', { token: a.token, params: { id: conv } })
      ).json().messages;
      expect(after.map((m: Json) => m.status)).to.deep.equal(['read', 'read', 'read', 'delivered', 'sent']);
      expect((await view(b.token)).unreadCount).to.equal(2);
    });

    it('bookmarks messages per user', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      const m = (await send(a.token, conv, { clientMsgId: 's', body: 'keep this' })).json();
      expect(
        (await call('PUT', '/v1/messages/:id/star', { token: b.token, params: { id: m.id } })).statusCode,
      ).to.equal(204);
      expect(
        (await call('GET', '/v1/users/me/stars', { token: b.token })).json().messages.map((x: Json) => x.id),
      ).to.deep.equal([m.id]);
      expect((await call('GET', '/v1/users/me/stars', { token: a.token })).json().messages).to.deep.equal([]);
      await call('DELETE', '/v1/messages/:id/star', { token: b.token, params: { id: m.id } });
      expect((await call('GET', '/v1/users/me/stars', { token: b.token })).json().messages).to.deep.equal([]);
    });

    it('stops direct messages from a user you blocked, from the next send on', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      // A send first, so the sender's checks are cached (api/sendchecks.ts): the block must undo that.
      expect((await send(a.token, conv, { clientMsgId: 'w', body: 'hi' }, false)).statusCode).to.equal(202);
      expect(
        (
          await call('PUT', '/v1/users/me/blocks/:username', {
            token: b.token,
            params: { username: a.username },
          })
        ).statusCode,
      ).to.equal(204);
      const res = await send(a.token, conv, { clientMsgId: 'x', body: 'hello?' }, false);
      expect(res.statusCode).to.equal(403);
      expect(res.json().code).to.equal('BLOCKED');
      await call('DELETE', '/v1/users/me/blocks/:username', {
        token: b.token,
        params: { username: a.username },
      });
      expect(
        (await send(a.token, conv, { clientMsgId: 'y', body: 'hello again' }, false)).statusCode,
      ).to.equal(202);
    });

    it('makes disappearing messages vanish from every read once expired', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      const m = (await send(a.token, conv, { clientMsgId: 'ttl', body: 'gone soon', ttlSeconds: 1 })).json();
      expect(m.expiresAt).to.be.a('string');
      await send(a.token, conv, { clientMsgId: 'stay', body: 'stays' });
      await new Promise((r) => setTimeout(r, 1100));
      const list = (
        await call('GET', '/v1/conversations/:id/messages', { token: b.token, params: { id: conv } })
      ).json().messages;
      expect(list.map((x: Json) => x.body)).to.deep.equal(['stays']);
      expect(
        (await call('PUT', '/v1/messages/:id/star', { token: b.token, params: { id: m.id } })).json().code,
      ).to.equal('MESSAGE_NOT_FOUND');
    });
  });
}
