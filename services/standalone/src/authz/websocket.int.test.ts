import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { waitFor } from '@parley/common';
import { TestSocket, wsUrl, type Frame, type Json, type User } from '@parley/common/testing';
import { clientFrameTypes } from '../../../message/src/gateway/protocol.ts';
import { SECRET, type Who } from './rows.ts';
import { authzWorld } from './world.ts';

describe('authorization matrix (embedded): WebSocket', function () {
  this.timeout(60_000);
  const t = authzWorld();
  const { w, badTokens, sockets, call, json, register, documented, refused, noSecrets } = t;

  describe('WebSocket', () => {
    const connect = async (u: User) => {
      const s = await TestSocket.bearer(t.base, u.token);
      sockets.push(s);
      return s;
    };
    const raw = (protocols?: string[]) => {
      const s = new TestSocket(wsUrl(t.base), protocols);
      sockets.push(s);
      return s;
    };
    /** One frame of each type about the group, for the frame-level rows. */
    const frameOf = (type: string, id: string): Json => {
      const conversationId = w.group;
      switch (type) {
        case 'auth':
          return { type, id, token: w.users.mallory.token };
        case 'send':
          return { type, id, conversationId, clientMsgId: randomUUID(), body: 'intrusion' };
        case 'typing':
          return { type, id, conversationId, state: 'started' };
        case 'read':
        case 'delivered':
          return { type, id, conversationId, seq: w.seq };
        case 'resume':
          return { type, id, cursors: { [conversationId]: 0 } };
        case 'presence':
          return { type, id, status: 'away' };
        case 'ping':
          return { type, id };
      }
      throw new Error(`no frame for type ${type}: add a row`);
    };
    /** Who may not send each frame type about the group, and the error frame they get. */
    /** The non-member and the removed member, who may not touch the group. */
    const outsiders = (code: string) => [
      { as: 'mallory' as Who, code },
      { as: 'carol' as Who, code },
    ];
    /** Who may not send each frame type about the group, and the error frame they get. */
    const FRAME_DENIALS: Record<string, { as: Who; code: string }[]> = {
      auth: [{ as: 'alice', code: 'TOKEN_MISMATCH' }], // mallory's token on alice's socket
      send: outsiders('CONVERSATION_NOT_FOUND'),
      typing: outsiders('CONVERSATION_NOT_FOUND'),
      read: outsiders('CONVERSATION_NOT_FOUND'),
      delivered: outsiders('CONVERSATION_NOT_FOUND'),
      resume: outsiders('CONVERSATION_NOT_FOUND'),
      presence: [], // about oneself only; the outsider test below checks who hears it
      ping: [], // allowed to anyone, even before authentication
    };

    it('has a row for every client frame type of the protocol', () => {
      expect([...clientFrameTypes].sort()).to.deep.equal(Object.keys(FRAME_DENIALS).sort());
    });

    for (const type of clientFrameTypes.filter((t) => t !== 'auth' && t !== 'ping'))
      it(`answers ${type} before authentication with NOT_AUTHENTICATED and no data`, async () => {
        const s = raw();
        await s.open();
        s.send(frameOf(type, 'x1'));
        expect(await s.next('error', { id: 'x1' })).to.include({ code: 'NOT_AUTHENTICATED' });
        s.send(frameOf('ping', 'p1'));
        await s.next('pong', { id: 'p1' });
        expect(s.frames.map((f) => f.type).sort()).to.deep.equal(['error', 'pong']);
      });

    it('answers ping before authentication, and still closes 4001 when no token follows', async () => {
      const s = raw();
      await s.open();
      s.send(frameOf('ping', 'p'));
      expect(await s.next('pong')).to.include({ id: 'p' });
      expect((await s.closedWith()).code).to.equal(4001);
    });

    const closeFor: Record<string, number> = {
      'no token': 4001,
      'not a JWT': 4001,
      'forged signature': 4001,
      'tampered payload (admin role)': 4001,
      'alg none': 4001,
      expired: 4002,
      'other audience': 4001,
      'other issuer': 4001,
      'revoked session': 4003,
      'issued in the future (#15)': 4001,
      'no at+jwt typ header (#15)': 4001,
    };
    it('closes with the documented code for every bad token, as subprotocol and as auth frame', async () => {
      expect(Object.keys(closeFor).sort()).to.deep.equal(Object.keys(badTokens).sort());
      for (const [variant, token] of Object.entries(badTokens)) {
        const viaProtocol = raw(token ? ['parley.v1', `parley.bearer.${token}`] : ['parley.v1']);
        const viaFrame = raw();
        await viaFrame.open();
        if (token) viaFrame.send({ type: 'auth', id: 'a', token });
        for (const s of [viaProtocol, viaFrame]) {
          expect((await s.closedWith()).code, variant).to.equal(closeFor[variant]);
          expect(
            s.frames.filter((f) => f.type !== 'error').map((f) => f.type),
            variant,
          ).to.deep.equal([]);
        }
      }
    });

    it('refuses a refresh with a bad token and keeps the socket on its own user', async () => {
      const s = await connect(w.users.alice);
      s.send({ type: 'auth', id: 'forged', token: badTokens['forged signature'] });
      expect(await s.next('error', { id: 'forged' })).to.include({ code: 'UNAUTHENTICATED' });
      s.send({ type: 'auth', id: 'bob', token: w.users.bob.token });
      expect(await s.next('error', { id: 'bob' })).to.include({ code: 'TOKEN_MISMATCH' });
      expect(s.closed).to.equal(undefined);
    });

    for (const [type, rows] of Object.entries(FRAME_DENIALS))
      for (const row of rows)
        it(`answers ${type} about the group from ${row.as} with ${row.code} and no data`, async () => {
          const s = await connect(w.users[row.as]);
          s.send(frameOf(type, 'd1'));
          const err = await s.next('error', { id: 'd1' });
          expect(err.code).to.equal(row.code);
          s.send(frameOf('ping', 'after'));
          await s.next('pong', { id: 'after' });
          // A resume still ends with `resumed`, naming none of the refused conversations.
          const seen = s.frames.filter(
            (f) =>
              !['ready', 'error', 'pong', 'presence'].includes(f.type) &&
              !(f.type === 'resumed' && Object.keys((f as Json).conversations ?? {}).length === 0),
          );
          expect(seen, JSON.stringify(seen)).to.deep.equal([]);
          noSecrets(JSON.stringify(s.frames), `${type} as ${row.as}`);
          expect(s.closed).to.equal(undefined);
        });

    it("never pushes the group's events, typing or presence to outsiders", async () => {
      const { alice, bob, carol, mallory } = w.users;
      const outsiders = [await connect(mallory), await connect(carol)];
      const member = await connect(bob);
      const owner = await connect(alice);
      owner.send({ type: 'typing', conversationId: w.group, state: 'started' });
      owner.send({ type: 'presence', status: 'away' });
      owner.send({
        type: 'send',
        id: 's',
        conversationId: w.group,
        clientMsgId: randomUUID(),
        body: SECRET.body,
      });
      await owner.next('ack', { id: 's' });
      await member.next('message.created', { conversationId: w.group });
      await member.next('typing', { conversationId: w.group });
      outsiders[0]!.send({ type: 'presence', id: 'pm', status: 'away' });
      await outsiders[0]!.next('ack', { id: 'pm' });
      // The outsiders' own sockets answered after the member got everything: nothing more is coming.
      for (const s of outsiders) {
        s.send({ type: 'ping', id: 'last' });
        await s.next('pong', { id: 'last' });
        const leaked = s.frames.filter(
          (f: Frame) => f.conversationId === w.group || (f.type === 'presence' && f.userId === alice.id),
        );
        expect(leaked, JSON.stringify(leaked)).to.deep.equal([]);
        noSecrets(JSON.stringify(s.frames), 'outsider socket');
      }
      await waitFor(() => owner.frames.some((f) => f.type === 'ack' && f.id === 's'), { timeoutMs: 1000 });
      expect(owner.frames.filter((f) => f.type === 'presence' && f.userId === mallory.id)).to.deep.equal([]);
    });

    describe('blocks and presence (#15, finding 5)', () => {
      const fresh = (name: string) => register(`${name}_${randomUUID().replace(/-/g, '').slice(0, 8)}`);
      const presenceOf = async (conv: string, viewer: User) =>
        ((await json('GET', `/v1/conversations/${conv}/presence`, viewer.token)).members as Json[]).map(
          (m) => m.userId as string,
        );
      /** Waits until `watcher` has seen the socket's own later pong: earlier frames are all in. */
      const settle = async (s: TestSocket, id: string) => {
        s.send({ type: 'ping', id });
        await s.next('pong', { id });
      };

      it('refuses a blocked user adding the blocker to a new or existing group with 403 BLOCKED', async () => {
        const [victim, stalker, friend] = await Promise.all([
          fresh('victim'),
          fresh('stalker'),
          fresh('friend'),
        ]);
        await json('PUT', `/v1/users/me/blocks/${stalker.username}`, victim.token);
        documented('POST', '/v1/conversations', 403, 'BLOCKED');
        documented('POST', '/v1/conversations/{id}/members', 403, 'BLOCKED');
        for (const type of ['direct', 'group'] as const)
          refused(
            await call('POST', '/v1/conversations', stalker.token, {
              type,
              title: 't',
              members: type === 'direct' ? [victim.username] : [victim.username, friend.username],
            }),
            403,
            'BLOCKED',
            `${type} with the blocker`,
          );
        const own = await json('POST', '/v1/conversations', stalker.token, {
          type: 'group',
          title: 't',
          members: [friend.username],
        });
        refused(
          await call('POST', `/v1/conversations/${own.id}/members`, stalker.token, {
            members: [victim.username],
          }),
          403,
          'BLOCKED',
          'adding the blocker to a group',
        );
        const mine = (await json('GET', '/v1/conversations', victim.token)).conversations as Json[];
        expect(mine, 'the blocker is in no conversation of the blocked user').to.deep.equal([]);
      });

      it("hides a stranger's unsolicited conversation from the invitee's presence until accepted", async () => {
        const [invitee, stranger] = await Promise.all([fresh('invitee'), fresh('stranger')]);
        const conv = (
          await json('POST', '/v1/conversations', stranger.token, {
            type: 'direct',
            members: [invitee.username],
          })
        ).id as string;
        expect((await json('GET', `/v1/conversations/${conv}`, invitee.token)).accepted).to.equal(false);
        expect((await json('GET', `/v1/conversations/${conv}`, stranger.token)).accepted).to.equal(true);
        const watcher = await connect(stranger);
        const target = await connect(invitee);
        target.send({ type: 'presence', id: 'p1', status: 'away' });
        await target.next('ack', { id: 'p1' });
        await settle(watcher, 'w1');
        expect(await presenceOf(conv, stranger)).to.deep.equal([stranger.id]);
        expect(
          watcher.frames.filter((f: Frame) => f.type === 'presence' && f.userId === invitee.id),
        ).to.deep.equal([]);
        // The invitee accepts: presence is shared from then on, over REST and pushed.
        expect((await json('POST', `/v1/conversations/${conv}/accept`, invitee.token)).accepted).to.equal(
          true,
        );
        expect(await presenceOf(conv, stranger)).to.have.members([stranger.id, invitee.id]);
        target.send({ type: 'presence', id: 'p2', status: 'online' });
        await watcher.next('presence', { userId: invitee.id, status: 'online' });
      });

      it('counts a reply as accepting a conversation request', async () => {
        const [invitee, stranger] = await Promise.all([fresh('replier'), fresh('asker')]);
        const conv = (
          await json('POST', '/v1/conversations', stranger.token, {
            type: 'group',
            title: 'q',
            members: [invitee.username],
          })
        ).id as string;
        expect(await presenceOf(conv, stranger)).to.deep.equal([stranger.id]);
        await json('POST', `/v1/conversations/${conv}/messages?wait=persisted`, invitee.token, {
          clientMsgId: 'hello',
          body: 'hi',
        });
        expect(await presenceOf(conv, stranger)).to.have.members([stranger.id, invitee.id]);
      });

      it('stops sharing presence with a user one blocks, over REST and pushed', async () => {
        const [a, b] = await Promise.all([fresh('blocker'), fresh('blocked')]);
        const conv = (
          await json('POST', '/v1/conversations', a.token, { type: 'direct', members: [b.username] })
        ).id as string;
        await json('POST', `/v1/conversations/${conv}/accept`, b.token);
        expect(await presenceOf(conv, b)).to.have.members([a.id, b.id]);
        await json('PUT', `/v1/users/me/blocks/${b.username}`, a.token);
        expect(await presenceOf(conv, b)).to.deep.equal([b.id]);
        const watcher = await connect(b);
        const blocker = await connect(a);
        blocker.send({ type: 'presence', id: 'pa', status: 'away' });
        await blocker.next('ack', { id: 'pa' });
        await settle(watcher, 'wb');
        expect(watcher.frames.filter((f: Frame) => f.type === 'presence' && f.userId === a.id)).to.deep.equal(
          [],
        );
      });
    });
  });
});
