import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, waitFor, type Running } from '@parley/common';
import { ConsoleMailer } from '@parley/common/mail';
import { runService } from '@parley/common/service';
import { apiCaller, FakeTwilio, Mailpit, OpenApiChecker } from '@parley/common/testing';
import { authSettings } from '../config.ts';
import { generateSigningJwk } from '../keys.ts';
import { authModule } from '../module.ts';
import { FakeGithub } from './fake-github.ts';

export const PASSWORD = 'a long and unusual passphrase';
export const uname = (p = 'u') => `${p}_${randomBytes(5).toString('hex')}`;

/**
 * One auth service for a suite's cases, with fake Twilio and GitHub servers, on embedded adapters
 * or the real local stack (`stackEnv`). Call `hooks()` inside the suite's describe.
 */
export class AuthHarness {
  /** The service under test (set by the before hook). */
  running!: Running;
  /** The signing key set the service starts with (JWT_SIGNING_KEYS). */
  keysJson!: string;
  readonly twilio = new FakeTwilio();
  readonly github = new FakeGithub();
  // Per run: a store shared across runs remembers which secret values were used.
  readonly bootstrapSecret = randomBytes(24).toString('hex');
  // A listed name nobody has registered yet (a shared store may hold root_admin from older runs).
  readonly squatName = uname('boss');
  private dir = '';
  private env: Record<string, string> = {};
  private checker!: OpenApiChecker;
  private admin: { id: string; username: string } | undefined;
  /** Embedded runs mail through the log adapter (read from its outbox); stack runs through Mailpit. */
  private readonly consoleMail = new ConsoleMailer(
    createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', name: 'mail-console' }),
  );

  constructor(private readonly stackEnv: () => Record<string, string>) {}

  readonly call = apiCaller({
    target: () => this.running,
    checker: () => this.checker,
    headers: { 'user-agent': 'parley-tests/1.0' },
  });

  hooks(): void {
    before(async () => {
      this.dir = mkdtempSync(join(tmpdir(), 'parley-auth-'));
      const twilioUrl = await this.twilio.start();
      const githubUrl = await this.github.start();
      this.keysJson = JSON.stringify([await generateSigningJwk('key-a')]);
      this.env = {
        PORT: '0',
        MANAGEMENT_PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: this.dir,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        JWT_SIGNING_KEYS: this.keysJson,
        TWILIO_ACCOUNT_SID: this.twilio.accountSid,
        TWILIO_AUTH_TOKEN: this.twilio.authToken,
        TWILIO_FROM: '+15005550006',
        TWILIO_BASE_URL: twilioUrl,
        GITHUB_CLIENT_ID: this.github.clientId,
        GITHUB_CLIENT_SECRET: this.github.clientSecret,
        GITHUB_REDIRECT_URL: 'http://127.0.0.1:1/v1/auth/github/callback',
        GITHUB_WEB_URL: githubUrl,
        GITHUB_API_URL: githubUrl,
        // The old setting is ignored now: a name in it gets no admin role (#15, finding 3).
        AUTH_ADMIN_USERNAMES: `root_admin,${this.squatName}`,
        AUTH_ADMIN_BOOTSTRAP_SECRET: this.bootstrapSecret,
        EMAIL_VERIFY_URL: 'https://chat.parley.test/verify-email',
        LOGIN_PROOF_OF_WORK_BITS: '8',
        OTP_RESEND_COOLDOWN_SECONDS: '2',
        // Runs must not share rate-limit counters or the inactivity lock through a long-lived Redis.
        REDIS_KEY_PREFIX: `parley-test-${randomBytes(4).toString('hex')}:`,
        ...this.stackEnv(),
      };
      this.running = await this.boot();
      const doc = (await this.running.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
      this.checker = new OpenApiChecker(doc);
    });

    after(async () => {
      await this.running?.stop('test');
      await this.twilio.stop();
      await this.github.stop();
      rmSync(this.dir, { recursive: true, force: true });
    });
  }

  /** Another instance on the same store and keys, with `extra` settings (a restart, a rotation, a second replica). */
  readonly boot = async (extra: Record<string, string> = {}): Promise<Running> => {
    const r = await runService({
      name: 'parley-auth',
      spec: authSettings,
      env: { ...this.env, ...extra },
      modules: () => [authModule(this.env.SMTP_URL ? undefined : this.consoleMail)],
    });
    await r.ready;
    return r;
  };

  /** The text of the newest mail to `to` once `count` reached it (Mailpit on the stack, the log adapter's outbox embedded). */
  readonly mailTo = async (to: string, count = 1): Promise<string> => {
    const api = this.env.MAILPIT_API_URL;
    if (api) return (await new Mailpit(api).waitFor(to, count)).Text;
    const mails = await waitFor(() => {
      const m = this.consoleMail.outbox.filter((x) => x.to === to);
      return m.length >= count ? m : undefined;
    });
    return mails.at(-1)!.text;
  };

  readonly register = async (username = uname(), extra: Record<string, unknown> = {}) => {
    const res = await this.call('POST', '/v1/auth/register', {
      body: { username, password: PASSWORD, ...extra },
    });
    expect(res.statusCode, res.body).to.equal(201);
    return res.json<{
      user: { id: string; username: string };
      tokens: { accessToken: string; refreshToken: string; sessionId: string };
    }>();
  };

  /** The run's admin, made once through the bootstrap secret; a fresh token each call. */
  readonly adminSession = async (): Promise<{ id: string; token: string }> => {
    if (!this.admin) {
      const r = await this.register(uname('adm'));
      const res = await this.call('POST', '/v1/auth/admin-bootstrap', {
        token: r.tokens.accessToken,
        body: { secret: this.bootstrapSecret },
      });
      expect(res.statusCode, res.body).to.equal(200);
      this.admin = r.user;
    }
    const login = await this.call('POST', '/v1/auth/login', {
      body: { login: this.admin.username, password: PASSWORD },
    });
    expect(login.json().user.roles).to.include('admin');
    return { id: this.admin.id, token: login.json().tokens.accessToken };
  };
}
