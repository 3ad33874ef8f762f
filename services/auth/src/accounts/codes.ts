import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { authProblems } from '../errors.ts';
import { sameHash } from '../tokens.ts';
import type { AccountsDeps } from './context.ts';

/** What proves a code: the six digits someone read, or the token of a mailed link. */
export type CodeProof = { code: string } | { token: string };

/**
 * One-time codes as SMS sign-in, phone and email verification share them: hashed at rest,
 * expiring, single-use, a resend cooldown per subject and a cap on guesses per code. Only the
 * newest code of a subject counts, so a new code (or a new subject) retires the older ones.
 */
export class OneTimeCodes {
  constructor(private readonly d: AccountsDeps) {}

  /** Starts `subject`'s resend cooldown, or answers OTP_COOLDOWN with Retry-After. */
  async cooldown(subject: string): Promise<{ release: () => Promise<void> }> {
    const { cache, opts } = this.d;
    const key = `otp-cooldown:${subject}`;
    const ms = opts.otp.resendCooldownSec * 1000;
    if (ms > 0 && !(await cache.set(key, '1', { ttlMs: ms, onlyIfAbsent: true }))) {
      const left = Math.max(1, Math.ceil(((await cache.ttlMs(key)) ?? ms) / 1000));
      throw authProblems.OTP_COOLDOWN(`retry in ${left} s`, { headers: { 'retry-after': String(left) } });
    }
    return { release: async () => void (await cache.del(key)) };
  }

  /** Stores a new 6-digit code for `subject` (and, with `link`, a 256-bit link token); returns them in clear to send. */
  async issue(subject: string, ttlSec: number, link = false): Promise<{ code: string; token?: string }> {
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const token = link ? randomBytes(32).toString('base64url') : undefined;
    const id = randomUUID();
    const now = Date.now();
    await this.d.store.saveOtp({
      _id: id,
      phone: subject,
      codeHash: otpHash(id, code),
      ...(token ? { linkHash: otpHash(id, `link:${token}`) } : {}),
      createdAt: now,
      expiresAt: now + ttlSec * 1000,
    });
    return token ? { code, token } : { code };
  }

  /** Accepts the proof once, or answers INVALID_OTP / OTP_ATTEMPTS_EXCEEDED. */
  async check(subject: string, proof: CodeProof): Promise<void> {
    const otp = await this.d.store.latestOtp(subject);
    if (!otp || otp.expiresAt <= Date.now()) throw authProblems.INVALID_OTP();
    const attempts = await this.d.store.recordOtpAttempt(otp._id, randomUUID());
    if (attempts > this.d.opts.otp.maxAttempts)
      throw authProblems.OTP_ATTEMPTS_EXCEEDED('request a new code');
    const ok =
      'code' in proof
        ? sameHash(otpHash(otp._id, proof.code), otp.codeHash)
        : otp.linkHash !== undefined && sameHash(otpHash(otp._id, `link:${proof.token}`), otp.linkHash);
    if (!ok) throw authProblems.INVALID_OTP();
    if (!(await this.d.store.consumeOtp(otp._id))) throw authProblems.INVALID_OTP();
  }
}

export function otpHash(otpId: string, code: string): string {
  return createHash('sha256').update(`${otpId}:${code}`).digest('hex');
}
