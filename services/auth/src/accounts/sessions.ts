import { createHash, randomUUID } from 'node:crypto';
import { revokedSessionKey, REVOCATIONS_CHANNEL, type Principal } from '@parley/common';
import { authProblems } from '../errors.ts';
import { userEvent } from '../events.ts';
import type { LoginMethod, LoginOutcome, REVOKE_REASONS } from '../metrics.ts';
import type { Session, User } from '../store.ts';
import { newRefreshToken, parseRefreshToken, sameHash, type TokenIssuer, type TokenPair } from '../tokens.ts';
import type { AccountsDeps, ClientContext } from './context.ts';

/** Sessions and their tokens: opened by every sign-in, rotated by refresh, ended by revocation. */
export class Sessions {
  constructor(
    private readonly d: AccountsDeps,
    private readonly tokens: TokenIssuer,
  ) {}

  /** Counts the outcome of a sign-in attempt, whatever it throws. */
  async counted<T>(method: LoginMethod, fn: () => Promise<T>): Promise<T> {
    try {
      const r = await fn();
      this.d.metrics.logins.labels(method, 'success').inc();
      return r;
    } catch (err) {
      this.d.metrics.logins.labels(method, loginOutcome((err as { code?: string }).code)).inc();
      throw err;
    }
  }

  async open(user: User, client: ClientContext): Promise<TokenPair> {
    const roles = user.roles;
    const sid = randomUUID();
    const now = Date.now();
    const refresh = newRefreshToken(sid, 0);
    const expiresAt = now + this.d.opts.refreshTtlSec * 1000;
    await this.d.store.createSession({
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
    await this.d.store.touchActive(user._id, now);
    const access = await this.tokens.access({ userId: user._id, sessionId: sid, roles }, now);
    this.d.metrics.tokensIssued.labels('access').inc();
    this.d.metrics.tokensIssued.labels('refresh').inc();
    return pair(access, refresh.token, expiresAt, sid);
  }

  refresh(refreshToken: string, client: ClientContext): Promise<TokenPair> {
    return this.counted('refresh', () => this.rotate(refreshToken, client));
  }

  private async rotate(refreshToken: string, client: ClientContext): Promise<TokenPair> {
    const parsed = parseRefreshToken(refreshToken);
    if (!parsed) throw authProblems.INVALID_REFRESH_TOKEN();
    const session = await this.d.store.sessionById(parsed.sessionId);
    if (!session || session.revokedAt || session.expiresAt <= Date.now())
      throw authProblems.INVALID_REFRESH_TOKEN();
    if (parsed.gen > session.refreshGen) throw authProblems.INVALID_REFRESH_TOKEN();
    if (parsed.gen < session.refreshGen) {
      await this.revoke(session, 'refresh token reuse');
      this.d.logger.warn(
        { sessionId: session._id, userId: session.userId },
        'refresh token reuse: session revoked',
      );
      throw authProblems.REFRESH_TOKEN_REUSED();
    }
    if (!sameHash(createHash('sha256').update(parsed.secret).digest('hex'), session.refreshHash))
      throw authProblems.INVALID_REFRESH_TOKEN();
    // Two presentations of one token race here: exactly one claim wins, the other is a reuse.
    if (!(await this.d.store.claimRefresh(session._id, parsed.gen))) {
      await this.revoke(session, 'refresh token reuse');
      throw authProblems.REFRESH_TOKEN_REUSED();
    }
    const user = await this.d.store.userById(session.userId);
    if (!user) throw authProblems.INVALID_REFRESH_TOKEN();
    if (user.status === 'blocked') {
      await this.revoke(session, 'user blocked');
      throw authProblems.ACCOUNT_BLOCKED(user.blockedReason);
    }
    const gen = parsed.gen + 1;
    const next = newRefreshToken(session._id, gen);
    const expiresAt = Date.now() + this.d.opts.refreshTtlSec * 1000;
    await this.d.store.rotateRefresh(session._id, gen, next.hash, expiresAt, client.ip);
    await this.d.store.touchActive(user._id);
    const access = await this.tokens.access({ userId: user._id, sessionId: session._id, roles: user.roles });
    this.d.metrics.tokensIssued.labels('access').inc();
    this.d.metrics.tokensIssued.labels('refresh').inc();
    return pair(access, next.token, expiresAt, session._id);
  }

  /** Revokes a session: its refresh token stops at once and so do its access tokens. */
  async revoke(session: Session, reason: (typeof REVOKE_REASONS)[number]): Promise<void> {
    this.d.metrics.sessionsRevoked.labels(reason).inc();
    await this.d.store.revokeSession(session._id, reason);
    await this.d.cache.set(revokedSessionKey(session._id), reason, {
      ttlMs: (this.d.opts.accessTtlSec + 60) * 1000,
    });
    // Best effort: open sockets also re-check at their next token refresh.
    await this.d.cache
      .publish(
        REVOCATIONS_CHANNEL,
        JSON.stringify({ sessionId: session._id, userId: session.userId, reason }),
      )
      .catch(() => undefined);
    await this.d.events.emit(
      userEvent('session.revoked', { userId: session.userId, sessionId: session._id, reason }),
    );
  }

  /** Whether the session was revoked (or never existed), from the store. */
  async isRevoked(sessionId: string): Promise<boolean> {
    const s = await this.d.store.sessionById(sessionId);
    return !s || s.revokedAt !== undefined;
  }

  async logout(p: Principal): Promise<void> {
    const s = await this.d.store.sessionById(p.sessionId);
    if (s && !s.revokedAt) await this.revoke(s, 'logout');
  }

  async logoutAll(p: Principal): Promise<number> {
    const sessions = await this.d.store.activeSessions(p.userId, 0);
    for (const s of sessions) await this.revoke(s, 'logout-all');
    return sessions.length;
  }
}

/** How a failed sign-in counts, from the problem code it failed with. */
export function loginOutcome(code: string | undefined): LoginOutcome {
  return code === 'ACCOUNT_BLOCKED'
    ? 'blocked'
    : code === 'RATE_LIMITED' || code === 'OTP_ATTEMPTS_EXCEEDED' || code === 'LOGIN_DELAYED'
      ? 'locked'
      : code === 'REFRESH_TOKEN_REUSED'
        ? 'reused'
        : 'invalid';
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

/** A readable device name from a User-Agent when the client sent none. */
export function deviceName(userAgent: string): string {
  if (!userAgent) return 'Unknown device';
  const m = /(Firefox|Edg|Chrome|Safari|curl|okhttp|Dart|node)[/ ]?([\d.]*)/i.exec(userAgent);
  return m ? `${m[1]}${m[2] ? ' ' + m[2].split('.')[0] : ''}` : userAgent.slice(0, 40);
}
