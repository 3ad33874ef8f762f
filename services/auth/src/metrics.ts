import client from 'prom-client';
import type { Registry } from '@parley/common';

export const LOGIN_METHODS = ['password', 'otp', 'github', 'refresh'] as const;
export const LOGIN_OUTCOMES = ['success', 'invalid', 'blocked', 'locked', 'reused'] as const;
export const REVOKE_REASONS = [
  'logout',
  'logout-all',
  'device revoked',
  'refresh token reuse',
  'user blocked',
] as const;

export type LoginMethod = (typeof LOGIN_METHODS)[number];
export type LoginOutcome = (typeof LOGIN_OUTCOMES)[number];

/** The auth service's business metrics; every series exists at zero from start-up. */
export class AuthMetrics {
  readonly logins: client.Counter<'method' | 'outcome'>;
  readonly registrations: client.Counter<'method'>;
  readonly tokensIssued: client.Counter<'kind'>;
  readonly sessionsRevoked: client.Counter<'reason'>;
  readonly otpSent: client.Counter<'outcome'>;
  readonly emailCodesSent: client.Counter<'outcome'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.logins = new client.Counter({
      name: 'parley_auth_logins_total',
      help: 'Sign-in attempts (refresh included) by method and outcome.',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.registrations = new client.Counter({
      name: 'parley_auth_registrations_total',
      help: 'Accounts created, by sign-up method.',
      labelNames: ['method'],
      registers,
    });
    this.tokensIssued = new client.Counter({
      name: 'parley_auth_tokens_issued_total',
      help: 'Tokens issued, by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.sessionsRevoked = new client.Counter({
      name: 'parley_auth_sessions_revoked_total',
      help: 'Sessions revoked, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.otpSent = new client.Counter({
      name: 'parley_auth_otp_sms_total',
      help: 'SMS codes requested, by outcome (sent, failed).',
      labelNames: ['outcome'],
      registers,
    });
    this.emailCodesSent = new client.Counter({
      name: 'parley_auth_email_codes_total',
      help: 'Email verification mails requested, by outcome (sent, failed).',
      labelNames: ['outcome'],
      registers,
    });
    for (const m of LOGIN_METHODS) for (const o of LOGIN_OUTCOMES) this.logins.labels(m, o).inc(0);
    for (const m of ['password', 'otp', 'github']) this.registrations.labels(m).inc(0);
    for (const k of ['access', 'refresh']) this.tokensIssued.labels(k).inc(0);
    for (const r of REVOKE_REASONS) this.sessionsRevoked.labels(r).inc(0);
    for (const o of ['sent', 'failed']) {
      this.otpSent.labels(o).inc(0);
      this.emailCodesSent.labels(o).inc(0);
    }
  }
}
