import { randomUUID } from 'node:crypto';
import type { Mailer, Principal } from '@parley/common';
import { authProblems } from '../errors.ts';
import type { User } from '../store.ts';
import type { CodeProof, OneTimeCodes } from './codes.ts';
import { WINDOW_15_MIN, type AccountsDeps } from './context.ts';
import type { Users } from './users.ts';
import { emailVerifySubject, verificationLink, verificationMail } from './verification-mail.ts';

export interface EmailOptions {
  /** How long a mailed code and link work. */
  ttlSec: number;
  /** The page a mailed link opens (it posts the token to POST /v1/users/me/email/verify); absent: code only. */
  linkUrl?: string | undefined;
}

/** Proving an account's pending email with a mailed code or link; only then is it the account's email. */
export class EmailAccounts {
  constructor(
    private readonly d: AccountsDeps,
    /** Absent when this installation sends no mail (EMAIL_DISABLED). */
    private readonly mailer: Mailer | undefined,
    private readonly users: Users,
    private readonly codes: OneTimeCodes,
    private readonly opts: EmailOptions,
  ) {}

  /** Mails a code (and link) to the caller's pending email. */
  async requestVerification(
    p: Principal,
    ip: string,
  ): Promise<{ expiresInSec: number; resendInSec: number }> {
    if (!this.mailer) throw authProblems.EMAIL_DISABLED();
    const u = await this.users.byId(p.userId);
    const to = u.pendingEmail;
    if (!to) throw authProblems.NOTHING_TO_VERIFY();
    const { limiter, opts } = this.d;
    const limit = { max: opts.limits.registerPer15Min, windowMs: WINDOW_15_MIN };
    await limiter.enforce(`otp:ip:${ip}`, limit, 'too many codes requested from this address');
    await limiter.enforce(`verify:user:${u._id}`, limit, 'too many codes requested for this account');
    const subject = emailVerifySubject(u._id, u.pendingEmailRef, to);
    const cooldown = await this.codes.cooldown(subject);
    // Per mailbox as well: many accounts typing one address cannot flood it.
    await limiter.enforce(`otp:email:${to}`, limit, 'too many codes requested for this email');
    const { code, token } = await this.codes.issue(subject, this.opts.ttlSec, true);
    const link = this.opts.linkUrl && token ? verificationLink(this.opts.linkUrl, token) : undefined;
    const mail = verificationMail({ username: u.username, code, link, ttlSec: this.opts.ttlSec });
    try {
      const sent = await this.mailer.send({
        to,
        ...mail,
        messageId: `<${randomUUID()}@parley.auth>`,
        headers: { 'Auto-Submitted': 'auto-generated' },
      });
      if (sent.rejected) throw new Error(`rejected: ${sent.response}`);
      this.d.metrics.emailCodesSent.labels('sent').inc();
    } catch (err) {
      this.d.metrics.emailCodesSent.labels('failed').inc();
      await cooldown.release();
      // The error names the server's answer, never the code.
      this.d.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'verification mail failed',
      );
      throw authProblems.MAIL_FAILED('try again later');
    }
    return { expiresInSec: this.opts.ttlSec, resendInSec: opts.otp.resendCooldownSec };
  }

  /** Proves the pending email with its code or link token: it becomes the account's email. */
  async verify(p: Principal, proof: CodeProof): Promise<User> {
    const u = await this.users.byId(p.userId);
    const email = u.pendingEmail;
    if (!email) throw authProblems.NOTHING_TO_VERIFY();
    await this.codes.check(emailVerifySubject(u._id, u.pendingEmailRef, email), proof);
    return this.users.promote(u._id, 'email', email);
  }
}
