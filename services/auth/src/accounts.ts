import { createHash, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  RateLimiter,
  revokedSessionKey,
  REVOCATIONS_CHANNEL,
  SmsError,
  tooMany,
  type Cache,
  type Logger,
  type Principal,
  type Sms,
} from '@parley/common';
import { authProblems } from './errors.ts';
import { userEvent, type UserEvents } from './events.ts';
import type { AuthMetrics, LoginMethod, LoginOutcome, REVOKE_REASONS } from './metrics.ts';
import { dummyHash, hashPassword, passwordProblem, verifyPassword } from './passwords.ts';
import { AccountTakenError, type AuthStore, type Role, type Session, type User } from './store.ts';
import { newRefreshToken, parseRefreshToken, sameHash, type TokenIssuer, type TokenPair } from './tokens.ts';

export interface ClientContext {
  ip: string;
  userAgent: string;
  device?: { name: string; platform: string } | undefined;
}

export interface AccountsOptions {
  accessTtlSec: number;
  refreshTtlSec: number;
  otp: { ttlSec: number; maxAttempts: number; resendCooldownSec: number };
  limits: {
    registerPer15Min: number;
    loginFailuresPer15Min: number;
    accountFailuresBeforeDelay: number;
    accountMaxDelaySec: number;
    proofOfWorkBits: number;
  };
  /** The one-time admin bootstrap secret; absent, nobody can become admin through the API. */
  adminBootstrapSecret?: string | undefined;
}

const WINDOW_15_MIN = 15 * 60_000;
const ACCOUNT_FAILURE_WINDOW_MS = 60 * 60_000;
const CHALLENGE_TTL_MS = 5 * 60_000;

/** The public view of a user: what the owner sees. */
export function ownView(u: User) {
  return {
    id: u._id,
    username: u.username,
    displayName: u.displayName,
    ...(u.email ? { email: u.email } : {}),
    ...(u.phone ? { phone: u.phone } : {}),
    ...(u.pendingEmail ? { pendingEmail: u.pendingEmail } : {}),
    ...(u.pendingPhone ? { pendingPhone: u.pendingPhone } : {}),
    roles: u.roles,
    status: u.status,
    hasPassword: u.passwordHash !== undefined,
    githubLinked: u.githubId !== undefined,
    createdAt: u.createdAt,
  };
}

/** What anyone signed in may see of another user. */
export function publicView(u: User) {
  return { id: u._id, username: u.username, displayName: u.displayName, status: u.status };
}

export function sessionView(s: Session, currentSessionId?: string) {
  return {
    id: s._id,
    name: s.device.name,
    platform: s.device.platform,
    ip: s.ip,
    userAgent: s.userAgent,
    createdAt: s.createdAt,
    lastSeenAt: s.lastSeenAt,
    current: s._id === currentSessionId,
  };
}

/**
 * Accounts, sessions and credentials: the auth service's domain, over the store, cache, event
 * log and SMS ports. HTTP-free, so routes stay thin and tests can call it directly.
 */
export class Accounts {
  private readonly limiter: RateLimiter;

  constructor(
    private readonly store: AuthStore,
    private readonly cache: Cache,
    private readonly sms: Sms,
    private readonly events: UserEvents,
    private readonly tokens: TokenIssuer,
    private readonly opts: AccountsOptions,
    private readonly logger: Logger,
    private readonly metrics: AuthMetrics,
  ) {
    this.limiter = new RateLimiter(cache, 'auth-rl:');
  }

  /**
   * Refuses a display name that reads as another account's username (case, a leading @ and
   * Unicode compatibility forms ignored), so nobody can pass for someone else in a member list.
   */
  private async checkDisplayName(displayName: string, ownUsername: string): Promise<void> {
    const bare = displayName.normalize('NFKC').trim().replace(/^@+/, '').trim().toLowerCase();
    if (bare === ownUsername || !/^[a-z0-9_.]{3,32}$/.test(bare)) return;
    if (await this.store.userByUsername(bare))
      throw authProblems.DISPLAY_NAME_IMPERSONATION(`"${displayName}" is the username of another account`);
  }

  private async newUser(
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
      await this.store.createUser(user);
    } catch (err) {
      if (err instanceof AccountTakenError) throw takenProblem(err);
      throw err;
    }
    this.metrics.registrations.labels(method).inc();
    await this.events.emit(
      userEvent('user.registered', { userId: user._id, username: user.username, method }),
    );
    return user;
  }

  async register(
    input: {
      username: string;
      password: string;
      email?: string | undefined;
      phone?: string | undefined;
      displayName?: string | undefined;
    },
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair }> {
    const limit = { max: this.opts.limits.registerPer15Min, windowMs: WINDOW_15_MIN };
    await this.limiter.enforce(`register:ip:${client.ip}`, limit, 'too many registrations from this address');
    // Per target too, so spreading sign-ups over many addresses does not help either.
    const email = input.email?.toLowerCase();
    if (email) await this.limiter.enforce(`register:email:${email}`, limit, 'too many registrations');
    if (input.phone)
      await this.limiter.enforce(`register:phone:${input.phone}`, limit, 'too many registrations');
    const username = input.username.toLowerCase();
    const weak = passwordProblem(input.password, username);
    if (weak) throw authProblems.WEAK_PASSWORD(`password ${weak}`);
    if (input.displayName) await this.checkDisplayName(input.displayName, username);
    // Email and phone are only claims until proven: kept pending, never unique, never resolved.
    const user = await this.newUser('password', {
      username,
      displayName: input.displayName ?? username,
      passwordHash: await hashPassword(input.password),
      ...(email ? { pendingEmail: email } : {}),
      ...(input.phone ? { pendingPhone: input.phone } : {}),
    });
    return { user, tokens: await this.openSession(user, client) };
  }

  /** Counts the outcome of a sign-in attempt, whatever it throws. */
  private async counted<T>(method: LoginMethod, fn: () => Promise<T>): Promise<T> {
    try {
      const r = await fn();
      this.metrics.logins.labels(method, 'success').inc();
      return r;
    } catch (err) {
      const code = (err as { code?: string }).code;
      const outcome: LoginOutcome =
        code === 'ACCOUNT_BLOCKED'
          ? 'blocked'
          : code === 'RATE_LIMITED' || code === 'OTP_ATTEMPTS_EXCEEDED' || code === 'LOGIN_DELAYED'
            ? 'locked'
            : code === 'REFRESH_TOKEN_REUSED'
              ? 'reused'
              : 'invalid';
      this.metrics.logins.labels(method, outcome).inc();
      throw err;
    }
  }

  login(
    input: { login: string; password: string; proof?: { challenge: string; nonce: string } | undefined },
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair }> {
    return this.counted('password', () => this.passwordLogin(input, client));
  }

  private async passwordLogin(
    input: { login: string; password: string; proof?: { challenge: string; nonce: string } | undefined },
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair }> {
    const login = input.login.toLowerCase();
    const failKey = `login-fail:${client.ip}:${login}`;
    const limit = { max: this.opts.limits.loginFailuresPer15Min, windowMs: WINDOW_15_MIN };
    const locked = await this.limiter.peek(failKey, limit);
    if (!locked.allowed) throw tooMany('too many failed logins; locked out', locked.retryAfterSec);
    await this.accountGate(login, input.proof);
    // Only a proven email finds an account (see User.email).
    const user = login.includes('@')
      ? await this.store.userByEmail(login)
      : await this.store.userByUsername(login);
    // Verify against a dummy hash when there is no user, so timing does not reveal who exists.
    const ok = await verifyPassword(user?.passwordHash ?? (await dummyHash()), input.password);
    if (!user || !user.passwordHash || !ok) {
      await this.limiter.hit(failKey, limit);
      await this.accountFailed(login);
      throw authProblems.INVALID_CREDENTIALS();
    }
    await this.limiter.reset(failKey);
    await this.limiter.reset(`login-fail:acct:${login}`);
    await this.cache.del(`auth-rl:login-delay:${login}`);
    if (user.status === 'blocked') throw authProblems.ACCOUNT_BLOCKED(user.blockedReason);
    return { user, tokens: await this.openSession(user, client) };
  }

  /**
   * The per-account throttle, whatever the address: after `accountFailuresBeforeDelay` failures
   * within an hour, each failure opens a delay that doubles (capped). During a delay the login is
   * not even checked, unless the client solved a proof of work for it: the owner pays a few CPU
   * seconds once, a guesser pays them per guess, so an attacker can slow the owner but not lock
   * them out. Keyed by the login as typed, known or not, so it reveals nothing about who exists.
   */
  private async accountGate(
    login: string,
    proof: { challenge: string; nonce: string } | undefined,
  ): Promise<void> {
    const delayKey = `auth-rl:login-delay:${login}`;
    const leftMs = (await this.cache.get(delayKey)) === null ? 0 : ((await this.cache.ttlMs(delayKey)) ?? 0);
    if (leftMs <= 0) return;
    const bits = this.opts.limits.proofOfWorkBits;
    if (bits > 0 && proof && (await this.redeemProof(login, proof, bits))) return;
    const retryAfter = Math.max(1, Math.ceil(leftMs / 1000));
    const extensions: Record<string, unknown> = { retryAfter };
    if (bits > 0) {
      const challenge = randomBytes(16).toString('base64url');
      await this.cache.set(`auth-rl:login-pow:${challenge}`, login, { ttlMs: CHALLENGE_TTL_MS });
      Object.assign(extensions, { challenge, difficulty: bits });
    }
    throw authProblems.LOGIN_DELAYED(`too many failed sign-ins for this account; retry in ${retryAfter} s`, {
      headers: { 'retry-after': String(retryAfter) },
      extensions,
    });
  }

  /** A challenge works once, for the login it was issued to. */
  private async redeemProof(
    login: string,
    proof: { challenge: string; nonce: string },
    bits: number,
  ): Promise<boolean> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(proof.challenge)) return false;
    if (!leadingZeroBits(createHash('sha256').update(`${proof.challenge}:${proof.nonce}`).digest(), bits))
      return false;
    return this.cache.deleteIfEquals(`auth-rl:login-pow:${proof.challenge}`, login);
  }

  private async accountFailed(login: string): Promise<void> {
    const n = await this.cache.incr(`auth-rl:login-fail:acct:${login}`, 1, ACCOUNT_FAILURE_WINDOW_MS);
    const over = n - this.opts.limits.accountFailuresBeforeDelay;
    if (over < 0) return;
    const delaySec = Math.min(this.opts.limits.accountMaxDelaySec, 2 ** Math.min(over, 30));
    await this.cache.set(`auth-rl:login-delay:${login}`, '1', { ttlMs: delaySec * 1000 });
  }

  private async openSession(user: User, client: ClientContext): Promise<TokenPair> {
    const roles = user.roles;
    const sid = randomUUID();
    const now = Date.now();
    const refresh = newRefreshToken(sid, 0);
    const expiresAt = now + this.opts.refreshTtlSec * 1000;
    await this.store.createSession({
      _id: sid,
      userId: user._id,
      device: client.device ?? { name: deviceName(client.userAgent), platform: 'unknown' },
      ip: client.ip,
      userAgent: client.userAgent.slice(0, 256),
      createdAt: new Date(now).toISOString(),
      lastSeenAt: new Date(now).toISOString(),
      expiresAt,
      refreshGen: 0,
      refreshHash: refresh.hash,
    });
    await this.store.touchActive(user._id, now);
    const access = await this.tokens.access({ userId: user._id, sessionId: sid, roles }, now);
    this.metrics.tokensIssued.labels('access').inc();
    this.metrics.tokensIssued.labels('refresh').inc();
    return pair(access, refresh.token, expiresAt, sid);
  }

  refresh(refreshToken: string, client: ClientContext): Promise<TokenPair> {
    return this.counted('refresh', () => this.rotate(refreshToken, client));
  }

  private async rotate(refreshToken: string, client: ClientContext): Promise<TokenPair> {
    const parsed = parseRefreshToken(refreshToken);
    if (!parsed) throw authProblems.INVALID_REFRESH_TOKEN();
    const session = await this.store.sessionById(parsed.sessionId);
    if (!session || session.revokedAt || session.expiresAt <= Date.now())
      throw authProblems.INVALID_REFRESH_TOKEN();
    if (parsed.gen > session.refreshGen) throw authProblems.INVALID_REFRESH_TOKEN();
    if (parsed.gen < session.refreshGen) {
      await this.revoke(session, 'refresh token reuse');
      this.logger.warn(
        { sessionId: session._id, userId: session.userId },
        'refresh token reuse: session revoked',
      );
      throw authProblems.REFRESH_TOKEN_REUSED();
    }
    if (!sameHash(createHash('sha256').update(parsed.secret).digest('hex'), session.refreshHash))
      throw authProblems.INVALID_REFRESH_TOKEN();
    // Two presentations of one token race here: exactly one claim wins, the other is a reuse.
    if (!(await this.store.claimRefresh(session._id, parsed.gen))) {
      await this.revoke(session, 'refresh token reuse');
      throw authProblems.REFRESH_TOKEN_REUSED();
    }
    const user = await this.store.userById(session.userId);
    if (!user) throw authProblems.INVALID_REFRESH_TOKEN();
    if (user.status === 'blocked') {
      await this.revoke(session, 'user blocked');
      throw authProblems.ACCOUNT_BLOCKED(user.blockedReason);
    }
    const gen = parsed.gen + 1;
    const next = newRefreshToken(session._id, gen);
    const expiresAt = Date.now() + this.opts.refreshTtlSec * 1000;
    await this.store.rotateRefresh(session._id, gen, next.hash, expiresAt, client.ip);
    await this.store.touchActive(user._id);
    const access = await this.tokens.access({ userId: user._id, sessionId: session._id, roles: user.roles });
    this.metrics.tokensIssued.labels('access').inc();
    this.metrics.tokensIssued.labels('refresh').inc();
    return pair(access, next.token, expiresAt, session._id);
  }

  /** Revokes a session: its refresh token stops at once and so do its access tokens. */
  private async revoke(session: Session, reason: (typeof REVOKE_REASONS)[number]): Promise<void> {
    this.metrics.sessionsRevoked.labels(reason).inc();
    await this.store.revokeSession(session._id, reason);
    await this.cache.set(revokedSessionKey(session._id), reason, {
      ttlMs: (this.opts.accessTtlSec + 60) * 1000,
    });
    // Best effort: open sockets also re-check at their next token refresh.
    await this.cache
      .publish(
        REVOCATIONS_CHANNEL,
        JSON.stringify({ sessionId: session._id, userId: session.userId, reason }),
      )
      .catch(() => undefined);
    await this.events.emit(
      userEvent('session.revoked', { userId: session.userId, sessionId: session._id, reason }),
    );
  }

  /** Whether the session was revoked (or never existed), from the store. */
  async sessionRevoked(sessionId: string): Promise<boolean> {
    const s = await this.store.sessionById(sessionId);
    return !s || s.revokedAt !== undefined;
  }

  async logout(p: Principal): Promise<void> {
    const s = await this.store.sessionById(p.sessionId);
    if (s && !s.revokedAt) await this.revoke(s, 'logout');
  }

  async logoutAll(p: Principal): Promise<number> {
    const sessions = await this.store.activeSessions(p.userId, 0);
    for (const s of sessions) await this.revoke(s, 'logout-all');
    return sessions.length;
  }

  async devices(p: Principal) {
    return (await this.store.activeSessions(p.userId)).map((s) => sessionView(s, p.sessionId));
  }

  async revokeDevice(p: Principal, sessionId: string): Promise<void> {
    const s = await this.store.sessionById(sessionId);
    // Someone else's session looks exactly like a missing one.
    if (!s || s.userId !== p.userId || s.revokedAt) throw authProblems.DEVICE_NOT_FOUND();
    await this.revoke(s, 'device revoked');
  }

  async me(p: Principal): Promise<User> {
    const u = await this.store.userById(p.userId);
    if (!u) throw authProblems.USER_NOT_FOUND();
    return u;
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
      await this.checkDisplayName(patch.displayName, current.username);
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
    const u = await this.store.updateUser(p.userId, set, unset);
    if (!u) throw authProblems.USER_NOT_FOUND();
    await this.events.emit(
      userEvent('user.updated', { userId: u._id, fields: [...Object.keys(set), ...unset] }),
    );
    return u;
  }

  async userByUsername(username: string): Promise<User> {
    const u = await this.store.userByUsername(username);
    if (!u) throw authProblems.USER_NOT_FOUND();
    return u;
  }

  async setPublicKey(p: Principal, algorithm: string, key: string): Promise<User> {
    const u = await this.store.updateUser(p.userId, {
      publicKey: { algorithm, key, updatedAt: new Date().toISOString() },
    });
    if (!u) throw authProblems.USER_NOT_FOUND();
    await this.events.emit(userEvent('user.updated', { userId: u._id, fields: ['publicKey'] }));
    return u;
  }

  async setBlocked(adminId: string, userId: string, blocked: boolean, reason: string): Promise<User> {
    const u = await this.store.userById(userId);
    if (!u) throw authProblems.USER_NOT_FOUND();
    return this.applyBlock(u, blocked, reason, adminId);
  }

  private async applyBlock(u: User, blocked: boolean, reason: string, by: string): Promise<User> {
    if ((u.status === 'blocked') === blocked) return u;
    const updated = blocked
      ? await this.store.updateUser(u._id, {
          status: 'blocked',
          blockedAt: new Date().toISOString(),
          blockedReason: reason,
        })
      : await this.store.updateUser(u._id, { status: 'active', lastActiveAt: Date.now() }, [
          'blockedAt',
          'blockedReason',
        ]);
    if (blocked)
      for (const s of await this.store.activeSessions(u._id, 0)) await this.revoke(s, 'user blocked');
    await this.events.emit(
      userEvent(blocked ? 'user.blocked' : 'user.unblocked', { userId: u._id, reason, by }),
    );
    return updated ?? u;
  }

  /** Blocks users inactive since `before`; admins are never blocked by the policy. Returns how many. */
  async blockInactive(before: number, batch = 200): Promise<number> {
    let n = 0;
    for (const u of await this.store.inactiveUsers(before, batch)) {
      if (u.roles.includes('admin')) continue;
      await this.applyBlock(u, true, 'inactive', 'inactivity-policy');
      n++;
    }
    return n;
  }

  requestOtp(phone: string, ip: string): Promise<{ expiresInSec: number; resendInSec: number }> {
    return this.sendCode(phone, phone, ip);
  }

  /** Sends a code proving the caller holds their pending number. */
  async requestPhoneVerification(
    p: Principal,
    ip: string,
  ): Promise<{ expiresInSec: number; resendInSec: number }> {
    const u = await this.me(p);
    if (!u.pendingPhone) throw authProblems.NOTHING_TO_VERIFY();
    const limit = { max: this.opts.limits.registerPer15Min, windowMs: WINDOW_15_MIN };
    await this.limiter.enforce(`verify:user:${u._id}`, limit, 'too many codes requested for this account');
    return this.sendCode(verifySubject(u._id, u.pendingPhone), u.pendingPhone, ip);
  }

  /** Proves the pending number with its code: only then does it become the account's phone. */
  async verifyPhone(p: Principal, code: string): Promise<User> {
    const u = await this.me(p);
    if (!u.pendingPhone) throw authProblems.NOTHING_TO_VERIFY();
    await this.checkCode(verifySubject(u._id, u.pendingPhone), code);
    let updated: User | null;
    try {
      updated = await this.store.updateUser(u._id, { phone: u.pendingPhone }, ['pendingPhone']);
    } catch (err) {
      // The caller holds the phone (right code), so telling them it is taken leaks nothing.
      if (err instanceof AccountTakenError) throw takenProblem(err);
      throw err;
    }
    if (!updated) throw authProblems.USER_NOT_FOUND();
    await this.events.emit(userEvent('user.updated', { userId: u._id, fields: ['phone', 'pendingPhone'] }));
    return updated;
  }

  /** Claims the admin role with the one-time bootstrap secret (each secret value works once). */
  async bootstrapAdmin(p: Principal, secret: string, ip: string): Promise<User> {
    await this.limiter.enforce(
      `admin-bootstrap:ip:${ip}`,
      { max: 5, windowMs: WINDOW_15_MIN },
      'too many bootstrap attempts from this address',
    );
    const expected = this.opts.adminBootstrapSecret;
    const digest = (s: string) => createHash('sha256').update(s).digest();
    if (!expected || !timingSafeEqual(digest(secret), digest(expected)))
      throw authProblems.ADMIN_BOOTSTRAP_REFUSED();
    const u = await this.me(p);
    if (!(await this.store.claimOnce(`admin-bootstrap:${digest(expected).toString('hex')}`)))
      throw authProblems.ADMIN_BOOTSTRAP_REFUSED();
    const roles: Role[] = u.roles.includes('admin') ? u.roles : [...u.roles, 'admin'];
    const updated = await this.store.updateUser(u._id, { roles });
    this.logger.warn(
      { userId: u._id, username: u.username },
      'admin role granted through the bootstrap secret',
    );
    await this.events.emit(userEvent('user.updated', { userId: u._id, fields: ['roles'] }));
    return updated ?? u;
  }

  /** Sends a 6-digit code for `subject` (a phone for sign-in, or an account's pending number). */
  private async sendCode(
    subject: string,
    phone: string,
    ip: string,
  ): Promise<{ expiresInSec: number; resendInSec: number }> {
    const limit = { max: this.opts.limits.registerPer15Min, windowMs: WINDOW_15_MIN };
    await this.limiter.enforce(`otp:ip:${ip}`, limit, 'too many codes requested from this address');
    const cooldownKey = `otp-cooldown:${subject}`;
    const cooldownMs = this.opts.otp.resendCooldownSec * 1000;
    if (
      cooldownMs > 0 &&
      !(await this.cache.set(cooldownKey, '1', { ttlMs: cooldownMs, onlyIfAbsent: true }))
    ) {
      const left = Math.max(1, Math.ceil(((await this.cache.ttlMs(cooldownKey)) ?? cooldownMs) / 1000));
      throw authProblems.OTP_COOLDOWN(`retry in ${left} s`, { headers: { 'retry-after': String(left) } });
    }
    await this.limiter.enforce(`otp:phone:${phone}`, limit, 'too many codes requested for this phone');
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const id = randomUUID();
    const now = Date.now();
    await this.store.saveOtp({
      _id: id,
      phone: subject,
      codeHash: otpHash(id, code),
      createdAt: now,
      expiresAt: now + this.opts.otp.ttlSec * 1000,
    });
    try {
      await this.sms.send(
        phone,
        `Your Parley code is ${code}. It expires in ${Math.round(this.opts.otp.ttlSec / 60)} minutes.`,
      );
      this.metrics.otpSent.labels('sent').inc();
    } catch (err) {
      this.metrics.otpSent.labels('failed').inc();
      await this.cache.del(cooldownKey);
      if (err instanceof SmsError && err.code === 'INVALID_NUMBER')
        throw authProblems.SMS_FAILED('the provider rejected this number');
      this.logger.warn({ err }, 'SMS send failed');
      throw authProblems.SMS_FAILED('try again later');
    }
    return { expiresInSec: this.opts.otp.ttlSec, resendInSec: this.opts.otp.resendCooldownSec };
  }

  verifyOtp(
    phone: string,
    code: string,
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair; created: boolean }> {
    return this.counted('otp', () => this.otpLogin(phone, code, client));
  }

  private async checkCode(subject: string, code: string): Promise<void> {
    const otp = await this.store.latestOtp(subject);
    if (!otp || otp.expiresAt <= Date.now()) throw authProblems.INVALID_OTP();
    const attempts = await this.store.recordOtpAttempt(otp._id, randomUUID());
    if (attempts > this.opts.otp.maxAttempts) throw authProblems.OTP_ATTEMPTS_EXCEEDED('request a new code');
    if (!sameHash(otpHash(otp._id, code), otp.codeHash)) throw authProblems.INVALID_OTP();
    if (!(await this.store.consumeOtp(otp._id))) throw authProblems.INVALID_OTP();
  }

  private async otpLogin(
    phone: string,
    code: string,
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair; created: boolean }> {
    await this.checkCode(phone, code);
    // Resolves only a proven number: someone who merely typed it (pendingPhone) is never found,
    // so the holder of the phone gets an account of their own, not theirs.
    let user = await this.store.userByPhone(phone);
    let created = false;
    if (!user) {
      user = await this.newUser('otp', {
        username: await this.freeUsername(`user_${randomBytes(4).toString('hex')}`),
        phone,
      });
      created = true;
    }
    if (user.status === 'blocked') throw authProblems.ACCOUNT_BLOCKED(user.blockedReason);
    return { user, tokens: await this.openSession(user, client), created };
  }

  /** Finds or creates the account linked to a GitHub identity. Never links by email: ours are unverified. */
  githubLogin(
    gh: { id: string; login: string; name?: string | undefined; email?: string | undefined },
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair; created: boolean }> {
    return this.counted('github', () => this.githubAccount(gh, client));
  }

  private async githubAccount(
    gh: { id: string; login: string; name?: string | undefined; email?: string | undefined },
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair; created: boolean }> {
    let user = await this.store.userByGithubId(gh.id);
    let created = false;
    if (!user) {
      const base = gh.login
        .toLowerCase()
        .replace(/[^a-z0-9_.]/g, '_')
        .slice(0, 28)
        .padEnd(3, '_');
      const emailFree = gh.email ? !(await this.store.userByEmail(gh.email)) : false;
      const username = await this.freeUsername(base);
      let displayName = (gh.name ?? gh.login).slice(0, 64);
      displayName = await this.checkDisplayName(displayName, username).then(
        () => displayName,
        () => username,
      );
      user = await this.newUser('github', {
        username,
        displayName,
        githubId: gh.id,
        ...(gh.email && emailFree ? { email: gh.email.toLowerCase() } : {}),
      });
      created = true;
    }
    if (user.status === 'blocked') throw authProblems.ACCOUNT_BLOCKED(user.blockedReason);
    return { user, tokens: await this.openSession(user, client), created };
  }

  private async freeUsername(base: string): Promise<string> {
    if (!(await this.store.userByUsername(base))) return base;
    for (let i = 0; i < 20; i++) {
      const candidate = `${base.slice(0, 27)}_${randomBytes(2).toString('hex')}`;
      if (!(await this.store.userByUsername(candidate))) return candidate;
    }
    return `user_${randomBytes(6).toString('hex')}`;
  }
}

/** Verification codes live beside sign-in codes under their own subject, so neither can stand in for the other. */
function verifySubject(userId: string, phone: string): string {
  return `verify:${userId}:${phone}`;
}

function leadingZeroBits(digest: Buffer, bits: number): boolean {
  for (let i = 0; i < bits; i++) if ((digest[i >> 3]! >> (7 - (i & 7))) & 1) return false;
  return true;
}

function otpHash(otpId: string, code: string): string {
  return createHash('sha256').update(`${otpId}:${code}`).digest('hex');
}

function pair(
  access: { token: string; expiresAt: number },
  refresh: string,
  refreshExpiresAt: number,
  sid: string,
): TokenPair {
  return {
    tokenType: 'Bearer',
    accessToken: access.token,
    accessTokenExpiresAt: new Date(access.expiresAt).toISOString(),
    refreshToken: refresh,
    refreshTokenExpiresAt: new Date(refreshExpiresAt).toISOString(),
    sessionId: sid,
  };
}

function takenProblem(err: AccountTakenError) {
  switch (err.field) {
    case 'phone':
      return authProblems.PHONE_TAKEN();
    default:
      return authProblems.USERNAME_TAKEN();
  }
}

/** A readable device name from a User-Agent when the client sent none. */
export function deviceName(userAgent: string): string {
  if (!userAgent) return 'Unknown device';
  const m = /(Firefox|Edg|Chrome|Safari|curl|okhttp|Dart|node)[/ ]?([\d.]*)/i.exec(userAgent);
  return m ? `${m[1]}${m[2] ? ' ' + m[2].split('.')[0] : ''}` : userAgent.slice(0, 40);
}
