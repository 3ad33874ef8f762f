import { randomBytes } from 'node:crypto';
import { SmsError, type Principal, type Sms } from '@parley/common';
import { authProblems } from '../errors.ts';
import type { User } from '../store.ts';
import type { TokenPair } from '../tokens.ts';
import type { OneTimeCodes } from './codes.ts';
import { WINDOW_15_MIN, type AccountsDeps, type ClientContext } from './context.ts';
import type { Sessions } from './sessions.ts';
import type { Users } from './users.ts';

/** One-time codes by SMS: sign-in with a phone, and proving an account's pending number. */
export class OtpAccounts {
  constructor(
    private readonly d: AccountsDeps,
    private readonly sms: Sms,
    private readonly users: Users,
    private readonly sessions: Sessions,
    private readonly codes: OneTimeCodes,
  ) {}

  request(phone: string, ip: string): Promise<{ expiresInSec: number; resendInSec: number }> {
    return this.sendCode(phone, phone, ip);
  }

  verify(
    phone: string,
    code: string,
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair; created: boolean }> {
    return this.sessions.counted('otp', () => this.otpLogin(phone, code, client));
  }

  /** Sends a code proving the caller holds their pending number. */
  async requestPhoneVerification(
    p: Principal,
    ip: string,
  ): Promise<{ expiresInSec: number; resendInSec: number }> {
    const u = await this.users.byId(p.userId);
    if (!u.pendingPhone) throw authProblems.NOTHING_TO_VERIFY();
    const limit = { max: this.d.opts.limits.registerPer15Min, windowMs: WINDOW_15_MIN };
    await this.d.limiter.enforce(`verify:user:${u._id}`, limit, 'too many codes requested for this account');
    return this.sendCode(verifySubject(u._id, u.pendingPhone), u.pendingPhone, ip);
  }

  /** Proves the pending number with its code: only then does it become the account's phone. */
  async verifyPhone(p: Principal, code: string): Promise<User> {
    const u = await this.users.byId(p.userId);
    if (!u.pendingPhone) throw authProblems.NOTHING_TO_VERIFY();
    await this.codes.check(verifySubject(u._id, u.pendingPhone), { code });
    return this.users.promote(u._id, 'phone', u.pendingPhone);
  }

  /** Sends a 6-digit code for `subject` (a phone for sign-in, or an account's pending number). */
  private async sendCode(
    subject: string,
    phone: string,
    ip: string,
  ): Promise<{ expiresInSec: number; resendInSec: number }> {
    const { opts, limiter } = this.d;
    const limit = { max: opts.limits.registerPer15Min, windowMs: WINDOW_15_MIN };
    await limiter.enforce(`otp:ip:${ip}`, limit, 'too many codes requested from this address');
    const cooldown = await this.codes.cooldown(subject);
    await limiter.enforce(`otp:phone:${phone}`, limit, 'too many codes requested for this phone');
    const { code } = await this.codes.issue(subject, opts.otp.ttlSec);
    try {
      await this.sms.send(
        phone,
        `Your Parley code is ${code}. It expires in ${Math.round(opts.otp.ttlSec / 60)} minutes.`,
      );
      this.d.metrics.otpSent.labels('sent').inc();
    } catch (err) {
      this.d.metrics.otpSent.labels('failed').inc();
      await cooldown.release();
      if (err instanceof SmsError && err.code === 'INVALID_NUMBER')
        throw authProblems.SMS_FAILED('the provider rejected this number');
      this.d.logger.warn({ err }, 'SMS send failed');
      throw authProblems.SMS_FAILED('try again later');
    }
    return { expiresInSec: opts.otp.ttlSec, resendInSec: opts.otp.resendCooldownSec };
  }

  private async otpLogin(
    phone: string,
    code: string,
    client: ClientContext,
  ): Promise<{ user: User; tokens: TokenPair; created: boolean }> {
    await this.codes.check(phone, { code });
    // Resolves only a proven number: someone who merely typed it (pendingPhone) is never found,
    // so the holder of the phone gets an account of their own, not theirs.
    let user = await this.d.store.userByPhone(phone);
    let created = false;
    if (!user) {
      user = await this.users.create('otp', {
        username: await this.users.freeUsername(`user_${randomBytes(4).toString('hex')}`),
        phone,
      });
      created = true;
    }
    if (user.status === 'blocked') throw authProblems.ACCOUNT_BLOCKED(user.blockedReason);
    return { user, tokens: await this.sessions.open(user, client), created };
  }
}

/** Verification codes live beside sign-in codes under their own subject, so neither can stand in for the other. */
export function verifySubject(userId: string, phone: string): string {
  return `verify:${userId}:${phone}`;
}
