import { DuplicateKeyError, q, type Collection, type Doc, type DocumentStore } from '@parley/common';

export type Role = 'user' | 'admin';

export interface PublicKeyRecord {
  algorithm: string;
  key: string;
  updatedAt: string;
}

export interface User extends Doc {
  username: string;
  displayName: string;
  /** A proven email (today only GitHub's verified primary email); unique, and the only one logins resolve. */
  email?: string;
  /** A proven phone number (an SMS code reached it); unique, and the only one OTP sign-in resolves. */
  phone?: string;
  /** An email the user typed and nobody proved: never unique, never used to find an account. */
  pendingEmail?: string;
  /** New with every change of pendingEmail: codes are issued for one (address, ref), so a change retires them. */
  pendingEmailRef?: string;
  /** A number the user typed, waiting for its code: never unique, never used to find an account. */
  pendingPhone?: string;
  githubId?: string;
  passwordHash?: string;
  roles: Role[];
  status: 'active' | 'blocked';
  blockedAt?: string;
  blockedReason?: string;
  createdAt: string;
  updatedAt: string;
  /** Epoch ms of the last sign-in or refresh; the inactivity job reads it. */
  lastActiveAt: number;
  publicKey?: PublicKeyRecord;
}

export interface Session extends Doc {
  userId: string;
  device: { name: string; platform: string };
  ip: string;
  userAgent: string;
  createdAt: string;
  lastSeenAt: string;
  /** Epoch ms after which the refresh token no longer works. */
  expiresAt: number;
  revokedAt?: string;
  revokedReason?: string;
  /** Generation of the refresh token currently valid for this session. */
  refreshGen: number;
  refreshHash: string;
}

export interface Otp extends Doc {
  /**
   * Whom the code is for: the phone number (sign-in), `verify:<userId>:<phone>` (proving a pending
   * number) or `verify-email:<userId>:<ref>:<email>` (proving a pending email).
   */
  phone: string;
  codeHash: string;
  /** The hash of a mailed link's token, which proves the code as the six digits do. */
  linkHash?: string;
  createdAt: number;
  expiresAt: number;
}

interface Claim extends Doc {
  at: number;
  ref?: string;
}

export class AccountTakenError extends Error {
  constructor(readonly field: 'username' | 'email' | 'phone' | 'githubId') {
    super(`${field} is taken`);
    this.name = 'AccountTakenError';
  }
}

/**
 * Users, sessions and OTP codes on the document store port. Every check-then-act that must not
 * race (refresh rotation, OTP attempts and use) claims a document id through insertOne, which all
 * backends enforce atomically; FerretDB v1 does not make concurrent updates of one document safe.
 */
export class AuthStore {
  private constructor(
    private readonly users: Collection<User>,
    private readonly sessions: Collection<Session>,
    private readonly otps: Collection<Otp>,
    private readonly claims: Collection<Claim>,
  ) {}

  static async open(store: DocumentStore): Promise<AuthStore> {
    return new AuthStore(
      await store.collection<User>('users', [
        { name: 'username', fields: [['username', 1]], unique: true },
        { name: 'email', fields: [['email', 1]], unique: true, sparse: true },
        { name: 'phone', fields: [['phone', 1]], unique: true, sparse: true },
        { name: 'github', fields: [['githubId', 1]], unique: true, sparse: true },
        {
          name: 'activity',
          fields: [
            ['status', 1],
            ['lastActiveAt', 1],
          ],
        },
      ]),
      await store.collection<Session>('sessions', [
        {
          name: 'user',
          fields: [
            ['userId', 1],
            ['createdAt', -1],
          ],
        },
      ]),
      await store.collection<Otp>('otps', [
        {
          name: 'phone',
          fields: [
            ['phone', 1],
            ['createdAt', -1],
          ],
        },
      ]),
      await store.collection<Claim>('auth_claims', [{ name: 'ref', fields: [['ref', 1]] }]),
    );
  }

  async createUser(user: User): Promise<void> {
    try {
      await this.users.insertOne(user);
    } catch (err) {
      if (err instanceof DuplicateKeyError) throw new AccountTakenError(await this.takenField(err, user));
      throw err;
    }
  }

  /**
   * Which unique field collided. MongoDB names the index in the error; FerretDB v1 does not
   * ("E11000 duplicate key error collection: …"), so then we look the values up.
   */
  private async takenField(err: DuplicateKeyError, u: Partial<User>): Promise<AccountTakenError['field']> {
    const named = ({ username: 'username', email: 'email', phone: 'phone', github: 'githubId' } as const)[
      err.index
    ];
    if (named) return named;
    if (u.username && (await this.users.findOne({ username: u.username, _id: q.ne(u._id ?? '') })))
      return 'username';
    if (u.email && (await this.users.findOne({ email: u.email, _id: q.ne(u._id ?? '') }))) return 'email';
    if (u.phone && (await this.users.findOne({ phone: u.phone, _id: q.ne(u._id ?? '') }))) return 'phone';
    if (u.githubId && (await this.users.findOne({ githubId: u.githubId, _id: q.ne(u._id ?? '') })))
      return 'githubId';
    return 'username';
  }

  userById(id: string): Promise<User | null> {
    return this.users.findById(id);
  }

  userByUsername(username: string): Promise<User | null> {
    return this.users.findOne({ username: username.toLowerCase() });
  }

  userByEmail(email: string): Promise<User | null> {
    return this.users.findOne({ email: email.toLowerCase() });
  }

  userByPhone(phone: string): Promise<User | null> {
    return this.users.findOne({ phone });
  }

  userByGithubId(githubId: string): Promise<User | null> {
    return this.users.findOne({ githubId });
  }

  async updateUser(
    id: string,
    set: Partial<Omit<User, '_id'>>,
    unset: (keyof User)[] = [],
  ): Promise<User | null> {
    try {
      return await this.users.updateOne(
        { _id: id },
        {
          $set: { ...set, updatedAt: new Date().toISOString() },
          ...(unset.length ? { $unset: unset as string[] } : {}),
        },
      );
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw new AccountTakenError(await this.takenField(err, { _id: id, ...set }));
      throw err;
    }
  }

  async touchActive(id: string, at = Date.now()): Promise<void> {
    await this.users.updateOne({ _id: id }, { $set: { lastActiveAt: at } });
  }

  /** Active users whose last activity is before `before` (epoch ms), oldest first. */
  inactiveUsers(before: number, limit: number): Promise<User[]> {
    return this.users.find(
      { status: 'active', lastActiveAt: q.lt(before) },
      { sort: [['lastActiveAt', 1]], limit },
    );
  }

  async createSession(s: Session): Promise<void> {
    await this.sessions.insertOne(s);
  }

  sessionById(id: string): Promise<Session | null> {
    return this.sessions.findById(id);
  }

  /** Sessions that can still refresh, newest first. */
  activeSessions(userId: string, now = Date.now()): Promise<Session[]> {
    return this.sessions.find(
      { userId, revokedAt: q.exists(false), expiresAt: q.gt(now) },
      { sort: [['createdAt', -1]], limit: 200 },
    );
  }

  /** Returns the session if it was active and is now revoked. */
  async revokeSession(id: string, reason: string): Promise<Session | null> {
    return this.sessions.updateOne(
      { _id: id, revokedAt: q.exists(false) },
      { $set: { revokedAt: new Date().toISOString(), revokedReason: reason } },
    );
  }

  async revokeAllSessions(userId: string, reason: string): Promise<Session[]> {
    const active = await this.sessions.find({ userId, revokedAt: q.exists(false) }, { limit: 10_000 });
    await this.sessions.updateMany(
      { userId, revokedAt: q.exists(false) },
      { $set: { revokedAt: new Date().toISOString(), revokedReason: reason } },
    );
    return active;
  }

  /**
   * Claims one refresh-token generation of a session. Exactly one caller wins; a second
   * presentation of the same token loses, which is how reuse is detected.
   */
  async claimRefresh(sessionId: string, gen: number): Promise<boolean> {
    return this.claim(`refresh:${sessionId}:${gen}`, sessionId);
  }

  async rotateRefresh(
    sessionId: string,
    gen: number,
    hash: string,
    expiresAt: number,
    ip: string,
  ): Promise<Session | null> {
    return this.sessions.updateOne(
      { _id: sessionId },
      { $set: { refreshGen: gen, refreshHash: hash, expiresAt, lastSeenAt: new Date().toISOString(), ip } },
    );
  }

  async saveOtp(otp: Otp): Promise<void> {
    await this.otps.insertOne(otp);
  }

  latestOtp(phone: string): Promise<Otp | null> {
    return this.otps.findOne({ phone }, { sort: [['createdAt', -1]] });
  }

  /** Records one guess at a code and returns how many guesses it has had, this one included. */
  async recordOtpAttempt(otpId: string, attemptId: string): Promise<number> {
    await this.claims.insertOne({ _id: `otp-attempt:${attemptId}`, at: Date.now(), ref: `otp:${otpId}` });
    return this.claims.count({ ref: `otp:${otpId}` });
  }

  /** Marks a code used; only the first caller gets true. */
  consumeOtp(otpId: string): Promise<boolean> {
    return this.claim(`otp-used:${otpId}`, `otp-used:${otpId}`);
  }

  /** Claims a one-time secret (the admin bootstrap) by its hash; only the first caller gets true. */
  claimOnce(id: string): Promise<boolean> {
    return this.claim(`once:${id}`, 'once');
  }

  /** Deletes expired codes and their claims (housekeeping). */
  async purgeOtps(before: number): Promise<number> {
    const old = await this.otps.find({ expiresAt: q.lt(before) }, { limit: 1000 });
    for (const o of old) await this.claims.deleteMany({ ref: `otp:${o._id}` });
    return this.otps.deleteMany({ _id: q.in(old.map((o) => o._id)) });
  }

  private async claim(id: string, ref: string): Promise<boolean> {
    try {
      await this.claims.insertOne({ _id: id, at: Date.now(), ref });
      return true;
    } catch (err) {
      if (err instanceof DuplicateKeyError) return false;
      throw err;
    }
  }
}
