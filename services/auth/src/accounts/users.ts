import { randomBytes, randomUUID } from 'node:crypto';
import { authProblems } from '../errors.ts';
import { userEvent } from '../events.ts';
import { AccountTakenError, type Role, type User } from '../store.ts';
import type { AccountsDeps } from './context.ts';

/** User records as every sign-up method creates them, and the rules on names they share. */
export class Users {
  constructor(private readonly d: AccountsDeps) {}

  /** The user, or USER_NOT_FOUND. */
  async byId(userId: string): Promise<User> {
    const u = await this.d.store.userById(userId);
    if (!u) throw authProblems.USER_NOT_FOUND();
    return u;
  }

  /**
   * Refuses a display name that reads as another account's username (case, a leading @ and
   * Unicode compatibility forms ignored), so nobody can pass for someone else in a member list.
   */
  async checkDisplayName(displayName: string, ownUsername: string): Promise<void> {
    const bare = bareName(displayName);
    if (bare === ownUsername || !/^[a-z0-9_.]{3,32}$/.test(bare)) return;
    if (await this.d.store.userByUsername(bare))
      throw authProblems.DISPLAY_NAME_IMPERSONATION(`"${displayName}" is the username of another account`);
  }

  async create(
    method: 'password' | 'otp' | 'github',
    fields: Partial<User> & { username: string; displayName?: string },
  ): Promise<User> {
    const now = new Date().toISOString();
    const user: User = {
      _id: randomUUID(),
      displayName: fields.displayName ?? fields.username,
      roles: ['user'] satisfies Role[],
      status: 'active',
      createdAt: now,
      updatedAt: now,
      lastActiveAt: Date.now(),
      ...fields,
    };
    try {
      await this.d.store.createUser(user);
    } catch (err) {
      if (err instanceof AccountTakenError) throw takenProblem(err);
      throw err;
    }
    this.d.metrics.registrations.labels(method).inc();
    await this.d.events.emit(
      userEvent('user.registered', { userId: user._id, username: user.username, method }),
    );
    return user;
  }

  /**
   * Makes a just-proven pending value the account's own (`phone` or `email`). Taken by another
   * account answers PHONE_TAKEN / EMAIL_TAKEN: the caller proved they hold it, so that leaks nothing.
   */
  async promote(userId: string, field: 'phone' | 'email', value: string): Promise<User> {
    const pending = field === 'phone' ? 'pendingPhone' : 'pendingEmail';
    let updated: User | null;
    try {
      updated = await this.d.store.updateUser(
        userId,
        { [field]: value },
        field === 'email' ? [pending, 'pendingEmailRef'] : [pending],
      );
    } catch (err) {
      if (err instanceof AccountTakenError) throw takenProblem(err);
      throw err;
    }
    if (!updated) throw authProblems.USER_NOT_FOUND();
    await this.d.events.emit(userEvent('user.updated', { userId, fields: [field, pending] }));
    return updated;
  }

  /** `base` if nobody has it, else `base` with a random suffix. */
  async freeUsername(base: string): Promise<string> {
    if (!(await this.d.store.userByUsername(base))) return base;
    for (let i = 0; i < 20; i++) {
      const candidate = `${base.slice(0, 27)}_${randomBytes(2).toString('hex')}`;
      if (!(await this.d.store.userByUsername(candidate))) return candidate;
    }
    return `user_${randomBytes(6).toString('hex')}`;
  }
}

/** A display name as the username it could pass for: compatibility forms folded, @ and case dropped. */
export function bareName(displayName: string): string {
  return displayName.normalize('NFKC').trim().replace(/^@+/, '').trim().toLowerCase();
}

export function takenProblem(err: AccountTakenError) {
  switch (err.field) {
    case 'phone':
      return authProblems.PHONE_TAKEN();
    case 'email':
      return authProblems.EMAIL_TAKEN();
    default:
      return authProblems.USERNAME_TAKEN();
  }
}
