import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { waitFor } from '@parley/common';
import { AuthStore } from '../store.ts';
import { PASSWORD, uname, type AuthHarness } from '../testing/harness.ts';

/* The auth service over HTTP (administration: the admin bootstrap, blocking, the inactivity policy); composed into one suite by ../auth.suite.ts. */

export function administrationCases(h: AuthHarness): void {
  const { call, register } = h;
  describe('administration', () => {
    it('grants admin to no username, only through the one-time bootstrap secret (#15, finding 3)', async () => {
      // h.squatName is in AUTH_ADMIN_USERNAMES; the setting no longer grants anything.
      const squatter = await register(h.squatName);
      const roles = (await call('GET', '/v1/users/me', { token: squatter.tokens.accessToken })).json().roles;
      expect(roles).to.deep.equal(['user']);
      const guess = await call('POST', '/v1/auth/admin-bootstrap', {
        token: squatter.tokens.accessToken,
        body: { secret: 'x'.repeat(48) },
      });
      expect(guess.statusCode).to.equal(403);
      expect(guess.json().code).to.equal('ADMIN_BOOTSTRAP_REFUSED');
      const a = await h.adminSession();
      expect((await call('GET', '/v1/users/me', { token: a.token })).json().roles).to.include('admin');
      // The secret worked once.
      const again = await call('POST', '/v1/auth/admin-bootstrap', {
        token: squatter.tokens.accessToken,
        body: { secret: h.bootstrapSecret },
      });
      expect(again.json().code).to.equal('ADMIN_BOOTSTRAP_REFUSED');
    });

    it('only admins may block; a blocked user loses sessions and gets ACCOUNT_BLOCKED', async () => {
      const adminToken = (await h.adminSession()).token;
      const victimName = uname();
      const victim = await register(victimName);
      const notAdmin = await call('POST', '/v1/admin/users/:id/block', {
        token: victim.tokens.accessToken,
        params: { id: victim.user.id },
        body: {},
      });
      expect(notAdmin.statusCode).to.equal(403);
      expect(notAdmin.json().code).to.equal('FORBIDDEN');
      const blocked = await call('POST', '/v1/admin/users/:id/block', {
        token: adminToken,
        params: { id: victim.user.id },
        body: { reason: 'spam' },
      });
      expect(blocked.json().status).to.equal('blocked');
      expect((await call('GET', '/v1/users/me', { token: victim.tokens.accessToken })).statusCode).to.equal(
        401,
      );
      const denied = await call('POST', '/v1/auth/login', {
        body: { login: victimName, password: PASSWORD },
      });
      expect(denied.statusCode).to.equal(403);
      expect(denied.json()).to.include({ code: 'ACCOUNT_BLOCKED', detail: 'spam' });
      await call('POST', '/v1/admin/users/:id/unblock', {
        token: adminToken,
        params: { id: victim.user.id },
        body: {},
      });
      expect(
        (await call('POST', '/v1/auth/login', { body: { login: victimName, password: PASSWORD } }))
          .statusCode,
      ).to.equal(200);
      expect(
        (
          await call('POST', '/v1/admin/users/:id/block', {
            token: adminToken,
            params: { id: randomUUID() },
            body: {},
          })
        ).json().code,
      ).to.equal('USER_NOT_FOUND');
    });
  });
}

export function inactivityCases(h: AuthHarness): void {
  const { call, register } = h;
  describe('inactivity policy', () => {
    it('blocks users inactive past the threshold, never admins, and ends their sessions', async () => {
      const idle = await register();
      const active = await register();
      const store = await AuthStore.open(h.running.deps().store);
      const longAgo = Date.now() - 90 * 86_400_000;
      await store.updateUser(idle.user.id, { lastActiveAt: longAgo });
      const adminId = (await h.adminSession()).id;
      await store.updateUser(adminId, { lastActiveAt: longAgo });
      // A second replica with the policy on shares the store; its first sweep runs at start-up.
      const sweeper = await h.boot({
        INACTIVE_BLOCK_AFTER_DAYS: '30',
        INACTIVE_SWEEP_INTERVAL_SECONDS: '10',
      });
      try {
        // Blocking marks the user first, then ends each session: wait for both.
        await waitFor(
          async () =>
            (await store.userById(idle.user.id))?.status === 'blocked' &&
            (await store.activeSessions(idle.user.id, 0)).length === 0,
          {
            timeoutMs: 10_000,
            what: 'idle user blocked',
          },
        );
        expect((await store.userById(idle.user.id))?.blockedReason).to.equal('inactive');
        expect((await store.userById(active.user.id))?.status).to.equal('active');
        expect((await store.userById(adminId))?.status).to.equal('active');
        const denied = await call('POST', '/v1/auth/login', {
          body: { login: idle.user.username, password: PASSWORD },
        });
        expect(denied.json()).to.include({ code: 'ACCOUNT_BLOCKED', detail: 'inactive' });
        expect(
          (await call('POST', '/v1/auth/refresh', { body: { refreshToken: idle.tokens.refreshToken } }))
            .statusCode,
        ).to.equal(401);
      } finally {
        await sweeper.stop('test');
      }
    });
  });
}
