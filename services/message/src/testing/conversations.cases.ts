import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { type Json, type MessageHarness } from './harness.ts';

/** Conversations and members over REST. */
export function conversationCases(h: MessageHarness): void {
  const { call, user, direct, send } = h;
  describe('conversations and members', () => {
    it('keeps one direct conversation per pair, whoever creates it', async () => {
      const [a, b] = [await user(), await user()];
      const first = await call('POST', '/v1/conversations', {
        token: a.token,
        body: { type: 'direct', members: [b.username] },
      });
      expect(first.statusCode).to.equal(201);
      const again = await call('POST', '/v1/conversations', {
        token: b.token,
        body: { type: 'direct', members: [a.username] },
      });
      expect(again.statusCode).to.equal(200);
      expect(again.json().id).to.equal(first.json().id);
      expect(
        first
          .json()
          .members.map((m: Json) => m.username)
          .sort(),
      ).to.deep.equal([a.username, b.username].sort());
    });

    it('refuses unknown users and a direct conversation with several others', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      expect(
        (
          await call('POST', '/v1/conversations', {
            token: a.token,
            body: { type: 'group', members: ['nobody_x'] },
          })
        ).json().code,
      ).to.equal('USER_NOT_FOUND');
      const two = await call('POST', '/v1/conversations', {
        token: a.token,
        body: { type: 'direct', members: [b.username, c.username] },
      });
      expect(two.statusCode).to.equal(422);
      expect(two.json().code).to.equal('INVALID_MEMBERS');
    });

    it('lets owners and admins manage a group, and members not', async () => {
      const [owner, m1, m2, m3] = [await user(), await user(), await user(), await user()];
      const g = (
        await call('POST', '/v1/conversations', {
          token: owner.token,
          body: { type: 'group', title: 'Team', members: [m1.username] },
        })
      ).json();
      expect(g.myRole).to.equal('owner');
      const denied = await call('POST', '/v1/conversations/:id/members', {
        token: m1.token,
        params: { id: g.id },
        body: { members: [m2.username] },
      });
      expect(denied.statusCode).to.equal(403);
      expect(denied.json().code).to.equal('NOT_ALLOWED_BY_ROLE');
      await call('PUT', '/v1/conversations/:id/members/:userId/role', {
        token: owner.token,
        params: { id: g.id, userId: m1.id },
        body: { role: 'admin' },
      });
      const added = await call('POST', '/v1/conversations/:id/members', {
        token: m1.token,
        params: { id: g.id },
        body: { members: [m2.username, m3.username] },
      });
      expect(added.json().members).to.have.length(4);
      const full = await call('POST', '/v1/conversations/:id/members', {
        token: owner.token,
        params: { id: g.id },
        body: { members: [(await user()).username] },
      });
      expect(full.json().code).to.equal('MEMBER_CAP_REACHED');
      const renamed = await call('PATCH', '/v1/conversations/:id', {
        token: m1.token,
        params: { id: g.id },
        body: { title: 'Renamed' },
      });
      expect(renamed.json().title).to.equal('Renamed');
      expect(
        (
          await call('PATCH', '/v1/conversations/:id', {
            token: m2.token,
            params: { id: g.id },
            body: { title: 'x' },
          })
        ).statusCode,
      ).to.equal(403);
      // An admin cannot remove the owner; a member can leave.
      expect(
        (
          await call('DELETE', '/v1/conversations/:id/members/:userId', {
            token: m1.token,
            params: { id: g.id, userId: owner.id },
          })
        ).statusCode,
      ).to.equal(403);
      expect(
        (
          await call('DELETE', '/v1/conversations/:id/members/:userId', {
            token: m3.token,
            params: { id: g.id, userId: m3.id },
          })
        ).statusCode,
      ).to.equal(204);
      expect(
        (await call('GET', '/v1/conversations/:id', { token: m3.token, params: { id: g.id } })).statusCode,
      ).to.equal(404);
    });

    it('refuses a removed member’s next send, though their checks were cached by an earlier one', async () => {
      const [owner, m] = [await user(), await user()];
      const g = (
        await call('POST', '/v1/conversations', {
          token: owner.token,
          body: { type: 'group', title: 'g', members: [m.username] },
        })
      ).json().id as string;
      expect((await send(m.token, g, { clientMsgId: 'one', body: 'in' }, false)).statusCode).to.equal(202);
      expect(
        (
          await call('DELETE', '/v1/conversations/:id/members/:userId', {
            token: owner.token,
            params: { id: g, userId: m.id },
          })
        ).statusCode,
      ).to.equal(204);
      const after = await send(m.token, g, { clientMsgId: 'two', body: 'still in?' }, false);
      expect(after.statusCode).to.equal(404);
      expect(after.json().code).to.equal('CONVERSATION_NOT_FOUND');
    });

    it('shows a non-member a conversation exactly like a missing one', async () => {
      const [a, b, stranger] = [await user(), await user(), await user()];
      const conv = await direct(a, b);
      for (const [method, route, body] of [
        ['GET', '/v1/conversations/:id', undefined],
        ['GET', '/v1/conversations/:id/messages', undefined],
        ['POST', '/v1/conversations/:id/messages', { clientMsgId: 'x', body: 'intrusion' }],
        ['POST', '/v1/conversations/:id/read', { seq: 1 }],
        ['PATCH', '/v1/conversations/:id', { title: 'mine now' }],
      ] as const) {
        const foreign = await call(method, route, {
          token: stranger.token,
          params: { id: conv },
          ...(body ? { body } : {}),
        });
        const missing = await call(method, route, {
          token: stranger.token,
          params: { id: randomUUID() },
          ...(body ? { body } : {}),
        });
        expect(foreign.statusCode, `${method} ${route}`).to.equal(404);
        expect(foreign.json().code).to.equal('CONVERSATION_NOT_FOUND');
        expect(missing.json().code).to.equal('CONVERSATION_NOT_FOUND');
      }
    });

    it('lists conversations by last activity with previews and unread counts', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      const ab = await direct(a, b);
      const ac = await direct(a, c);
      await send(b.token, ab, { clientMsgId: '1', body: 'from b' });
      await send(c.token, ac, { clientMsgId: '1', body: 'from c' });
      await send(c.token, ac, { clientMsgId: '2', body: 'again from c' });
      const list = (await call('GET', '/v1/conversations', { token: a.token })).json().conversations;
      expect(list.map((x: Json) => x.id)).to.deep.equal([ac, ab]);
      expect(list[0]).to.include({ unreadCount: 2, lastSeq: 2 });
      expect(list[0].lastMessage.body).to.equal('again from c');
      const page = await call('GET', '/v1/conversations', { token: a.token, query: 'limit=1' });
      expect(page.json().conversations.map((x: Json) => x.id)).to.deep.equal([ac]);
      const next = await call('GET', '/v1/conversations', {
        token: a.token,
        query: `limit=1&cursor=${page.json().nextCursor}`,
      });
      expect(next.json().conversations.map((x: Json) => x.id)).to.deep.equal([ab]);
      expect(
        (await call('GET', '/v1/conversations', { token: a.token, query: 'cursor=garbage' })).json().code,
      ).to.equal('INVALID_CURSOR');
    });
  });
}
