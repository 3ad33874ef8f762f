import { randomUUID } from 'node:crypto';
import type { Principal } from '@parley/common';
import { authProblems } from '../errors.ts';
import { userEvent } from '../events.ts';
import type { User } from '../store.ts';
import type { AccountsDeps } from './context.ts';
import type { Users } from './users.ts';

/** A user's own profile (names, email, phone, public key) and the profiles of others. */
export class Profiles {
  constructor(
    private readonly d: AccountsDeps,
    private readonly users: Users,
  ) {}

  me(p: Principal): Promise<User> {
    return this.users.byId(p.userId);
  }

  async updateMe(
    p: Principal,
    patch: {
      displayName?: string | undefined;
      email?: string | null | undefined;
      phone?: string | null | undefined;
    },
  ): Promise<User> {
    const current = await this.me(p);
    const set: Partial<User> = {};
    const unset: (keyof User)[] = [];
    if (patch.displayName !== undefined) {
      await this.users.checkDisplayName(patch.displayName, current.username);
      set.displayName = patch.displayName;
    }
    // A new email or number is pending until proven; a proven one stays until the new one is.
    // Nothing here looks at other accounts, so the answer cannot tell who owns what.
    for (const [f, pending] of [
      ['email', 'pendingEmail'],
      ['phone', 'pendingPhone'],
    ] as const) {
      const v = patch[f];
      if (v === null) unset.push(f, pending);
      else if (v !== undefined) {
        const value = f === 'email' ? v.toLowerCase() : v;
        if (value === current[f]) unset.push(pending);
        else set[pending] = value;
      }
    }
    const fields = [...Object.keys(set), ...unset];
    // Codes are issued for one (address, ref): a new ref retires them, even on a change back.
    if (set.pendingEmail) set.pendingEmailRef = randomUUID();
    else if (unset.includes('pendingEmail')) unset.push('pendingEmailRef');
    const u = await this.d.store.updateUser(p.userId, set, unset);
    if (!u) throw authProblems.USER_NOT_FOUND();
    await this.d.events.emit(userEvent('user.updated', { userId: u._id, fields }));
    return u;
  }

  async userByUsername(username: string): Promise<User> {
    const u = await this.d.store.userByUsername(username);
    if (!u) throw authProblems.USER_NOT_FOUND();
    return u;
  }

  async setPublicKey(p: Principal, algorithm: string, key: string): Promise<User> {
    const u = await this.d.store.updateUser(p.userId, {
      publicKey: { algorithm, key, updatedAt: new Date().toISOString() },
    });
    if (!u) throw authProblems.USER_NOT_FOUND();
    await this.d.events.emit(userEvent('user.updated', { userId: u._id, fields: ['publicKey'] }));
    return u;
  }
}
