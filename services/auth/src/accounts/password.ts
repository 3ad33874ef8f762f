import { createHash, randomBytes } from 'node:crypto';
import { tooMany } from '@parley/common';
import { authProblems } from '../errors.ts';
import { dummyHash, hashPassword, passwordProblem, verifyPassword } from '../passwords.ts';
import type { User } from '../store.ts';
import type { TokenPair } from '../tokens.ts';
import { WINDOW_15_MIN, type AccountsDeps, type ClientContext } from './context.ts';
import type { Sessions } from './sessions.ts';
import type { Users } from './users.ts';

const ACCOUNT_FAILURE_WINDOW_MS = 60 * 60_000;
const CHALLENGE_TTL_MS = 5 * 60_000;

type Proof = { challenge: string; nonce: string };

/** Password sign-up and sign-in, with the per-address and per-account throttles. */
export class PasswordAccounts {
  constructor(
    private readonly d: AccountsDeps,
    private readonly users: Users,
    private readonly sessions: Sessions,
  ) {}

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
    const limit = { max: this.d.opts.limits.registerPer15Min, windowMs: WINDOW_15_MIN };
    await this.d.limiter.enforce(
      `register:ip:${client.ip}`,
      limit,
      'too many registrations from this address',
    );
    // Per target too, so spreading sign-ups over many addresses does not help either.
    const email = input.email?.toLowerCase();
    if (email) await this.d.limiter.enforce(`register:email:${email}`, limit, 'too many registrations');
    if (input.phone)
      await this.d.limiter.enforce(`register:phone:${input.phone}`, limit, 'too many registrations');
    const username = input.username.toLowerCase();
    const weak = passwordProblem(input.password, username);
    if (weak) throw authProblems.WEAK_PASSWORD(`password ${weak}`);
    if (input.displayName) await this.users.checkDisplayName(input.displayName, username);
    // Email and phone are only claims until proven: kept pending, never unique, never resolved.
    const user = await this.users.create('password', {
      username,
      displayName: input.displayName ?? username,
      passwordHash: await hashPassword(input.password),
      ...(email ? { pendingEmail: email } : {}),
      ...(input.phone ? { pendingPhone: input.phone } : {}),
    });
    return { user, tokens: await this.sessions.open(user, client) };
  }

  login(
    input: { login: string; password: string; proof?: Proof | undefined },
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair }> {
    return this.sessions.counted('password', () => this.passwordLogin(input, client));
  }

  private async passwordLogin(
    input: { login: string; password: string; proof?: Proof | undefined },
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair }> {
    const login = input.login.toLowerCase();
    const failKey = `login-fail:${client.ip}:${login}`;
    const limit = { max: this.d.opts.limits.loginFailuresPer15Min, windowMs: WINDOW_15_MIN };
    const locked = await this.d.limiter.peek(failKey, limit);
    if (!locked.allowed) throw tooMany('too many failed logins; locked out', locked.retryAfterSec);
    await this.accountGate(login, input.proof);
    // Only a proven email finds an account (see User.email).
    const user = login.includes('@')
      ? await this.d.store.userByEmail(login)
      : await this.d.store.userByUsername(login);
    // Verify against a dummy hash when there is no user, so timing does not reveal who exists.
    const ok = await verifyPassword(user?.passwordHash ?? (await dummyHash()), input.password);
    if (!user || !user.passwordHash || !ok) {
      await this.d.limiter.hit(failKey, limit);
      await this.accountFailed(login);
      throw authProblems.INVALID_CREDENTIALS();
    }
    await this.d.limiter.reset(failKey);
    await this.d.limiter.reset(`login-fail:acct:${login}`);
    await this.d.cache.del(`auth-rl:login-delay:${login}`);
    if (user.status === 'blocked') throw authProblems.ACCOUNT_BLOCKED(user.blockedReason);
    return { user, tokens: await this.sessions.open(user, client) };
  }

  /**
   * The per-account throttle, whatever the address: after `accountFailuresBeforeDelay` failures
   * within an hour, each failure opens a delay that doubles (capped). During a delay the login is
   * not even checked, unless the client solved a proof of work for it: the owner pays a few CPU
   * seconds once, a guesser pays them per guess, so an attacker can slow the owner but not lock
   * them out. Keyed by the login as typed, known or not, so it reveals nothing about who exists.
   */
  private async accountGate(login: string, proof: Proof | undefined): Promise<void> {
    const delayKey = `auth-rl:login-delay:${login}`;
    const leftMs =
      (await this.d.cache.get(delayKey)) === null ? 0 : ((await this.d.cache.ttlMs(delayKey)) ?? 0);
    if (leftMs <= 0) return;
    const bits = this.d.opts.limits.proofOfWorkBits;
    if (bits > 0 && proof && (await this.redeemProof(login, proof, bits))) return;
    const retryAfter = Math.max(1, Math.ceil(leftMs / 1000));
    const extensions: Record<string, unknown> = { retryAfter };
    if (bits > 0) {
      const challenge = randomBytes(16).toString('base64url');
      await this.d.cache.set(`auth-rl:login-pow:${challenge}`, login, { ttlMs: CHALLENGE_TTL_MS });
      Object.assign(extensions, { challenge, difficulty: bits });
    }
    throw authProblems.LOGIN_DELAYED(`too many failed sign-ins for this account; retry in ${retryAfter} s`, {
      headers: { 'retry-after': String(retryAfter) },
      extensions,
    });
  }

  /** A challenge works once, for the login it was issued to. */
  private async redeemProof(login: string, proof: Proof, bits: number): Promise<boolean> {
    if (!solvesChallenge(proof, bits)) return false;
    return this.d.cache.deleteIfEquals(`auth-rl:login-pow:${proof.challenge}`, login);
  }

  private async accountFailed(login: string): Promise<void> {
    const n = await this.d.cache.incr(`auth-rl:login-fail:acct:${login}`, 1, ACCOUNT_FAILURE_WINDOW_MS);
    const delaySec = loginDelaySec(
      n,
      this.d.opts.limits.accountFailuresBeforeDelay,
      this.d.opts.limits.accountMaxDelaySec,
    );
    if (delaySec === undefined) return;
    await this.d.cache.set(`auth-rl:login-delay:${login}`, '1', { ttlMs: delaySec * 1000 });
  }
}

/**
 * The delay after the `failures`th failure within the hour: none before `before` failures, then
 * 1 s doubling with each failure, capped at `maxSec`.
 */
export function loginDelaySec(failures: number, before: number, maxSec: number): number | undefined {
  const over = failures - before;
  if (over < 0) return undefined;
  return Math.min(maxSec, 2 ** Math.min(over, 30));
}

/** Whether sha256(`challenge:nonce`) starts with `bits` zero bits (and the challenge is well formed). */
export function solvesChallenge(proof: Proof, bits: number): boolean {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(proof.challenge)) return false;
  const digest = createHash('sha256').update(`${proof.challenge}:${proof.nonce}`).digest();
  for (let i = 0; i < bits; i++) if ((digest[i >> 3]! >> (7 - (i & 7))) & 1) return false;
  return true;
}
