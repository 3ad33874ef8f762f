import { createHash, timingSafeEqual } from 'node:crypto';
import type { Principal } from '@parley/common';
import { authProblems } from '../errors.ts';
import { userEvent } from '../events.ts';
import type { Role, User } from '../store.ts';
import { WINDOW_15_MIN, type AccountsDeps } from './context.ts';
import type { Sessions } from './sessions.ts';
import type { Users } from './users.ts';

/** Administration: blocking users (by an admin or the inactivity policy) and the admin bootstrap. */
export class Administration {
  constructor(
    private readonly d: AccountsDeps,
    private readonly users: Users,
    private readonly sessions: Sessions,
  ) {}

  async setBlocked(adminId: string, userId: string, blocked: boolean, reason: string): Promise<User> {
    const u = await this.users.byId(userId);
    return this.applyBlock(u, blocked, reason, adminId);
  }

  private async applyBlock(u: User, blocked: boolean, reason: string, by: string): Promise<User> {
    if ((u.status === 'blocked') === blocked) return u;
    const updated = blocked
      ? await this.d.store.updateUser(u._id, {
          status: 'blocked',
          blockedAt: new Date().toISOString(),
          blockedReason: reason,
        })
      : await this.d.store.updateUser(u._id, { status: 'active', lastActiveAt: Date.now() }, [
          'blockedAt',
          'blockedReason',
        ]);
    if (blocked)
      for (const s of await this.d.store.activeSessions(u._id, 0))
        await this.sessions.revoke(s, 'user blocked');
    await this.d.events.emit(
      userEvent(blocked ? 'user.blocked' : 'user.unblocked', { userId: u._id, reason, by }),
    );
    return updated ?? u;
  }

  /** Blocks users inactive since `before`; admins are never blocked by the policy. Returns how many. */
  async blockInactive(before: number, batch = 200): Promise<number> {
    let n = 0;
    for (const u of await this.d.store.inactiveUsers(before, batch)) {
      if (u.roles.includes('admin')) continue;
      await this.applyBlock(u, true, 'inactive', 'inactivity-policy');
      n++;
    }
    return n;
  }

  /** Claims the admin role with the one-time bootstrap secret (each secret value works once). */
  async bootstrap(p: Principal, secret: string, ip: string): Promise<User> {
    await this.d.limiter.enforce(
      `admin-bootstrap:ip:${ip}`,
      { max: 5, windowMs: WINDOW_15_MIN },
      'too many bootstrap attempts from this address',
    );
    const expected = this.d.opts.adminBootstrapSecret;
    const digest = (s: string) => createHash('sha256').update(s).digest();
    if (!expected || !timingSafeEqual(digest(secret), digest(expected)))
      throw authProblems.ADMIN_BOOTSTRAP_REFUSED();
    const u = await this.users.byId(p.userId);
    if (!(await this.d.store.claimOnce(`admin-bootstrap:${digest(expected).toString('hex')}`)))
      throw authProblems.ADMIN_BOOTSTRAP_REFUSED();
    const roles: Role[] = u.roles.includes('admin') ? u.roles : [...u.roles, 'admin'];
    const updated = await this.d.store.updateUser(u._id, { roles });
    this.d.logger.warn(
      { userId: u._id, username: u.username },
      'admin role granted through the bootstrap secret',
    );
    await this.d.events.emit(userEvent('user.updated', { userId: u._id, fields: ['roles'] }));
    return updated ?? u;
  }
}
