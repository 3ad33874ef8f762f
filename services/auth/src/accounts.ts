import { RateLimiter, type Cache, type Logger, type Mailer, type Sms } from '@parley/common';
import { Administration } from './accounts/admin.ts';
import { OneTimeCodes } from './accounts/codes.ts';
import type { AccountsOptions } from './accounts/context.ts';
import { Devices } from './accounts/devices.ts';
import { EmailAccounts, type EmailOptions } from './accounts/email.ts';
import { GithubAccounts } from './accounts/github.ts';
import { OtpAccounts } from './accounts/otp.ts';
import { PasswordAccounts } from './accounts/password.ts';
import { Profiles } from './accounts/profile.ts';
import { Sessions } from './accounts/sessions.ts';
import { Users } from './accounts/users.ts';
import type { UserEvents } from './events.ts';
import type { AuthMetrics } from './metrics.ts';
import type { AuthStore } from './store.ts';
import type { TokenIssuer } from './tokens.ts';

/**
 * Accounts, sessions and credentials: the auth service's domain, over the store, cache, event
 * log, SMS and mail ports, one part per way in (see accounts/). HTTP-free, so routes stay thin and tests
 * can call it directly.
 */
export class Accounts {
  readonly sessions: Sessions;
  readonly password: PasswordAccounts;
  readonly otp: OtpAccounts;
  readonly email: EmailAccounts;
  readonly github: GithubAccounts;
  readonly devices: Devices;
  readonly profile: Profiles;
  readonly admin: Administration;

  constructor(
    store: AuthStore,
    cache: Cache,
    sms: Sms,
    /** Absent: this installation sends no mail (EMAIL_DISABLED). */
    mailer: Mailer | undefined,
    events: UserEvents,
    tokens: TokenIssuer,
    opts: AccountsOptions & { email: EmailOptions },
    logger: Logger,
    metrics: AuthMetrics,
  ) {
    const d = { store, cache, events, opts, logger, metrics, limiter: new RateLimiter(cache, 'auth-rl:') };
    const users = new Users(d);
    this.sessions = new Sessions(d, tokens);
    this.password = new PasswordAccounts(d, users, this.sessions);
    const codes = new OneTimeCodes(d);
    this.otp = new OtpAccounts(d, sms, users, this.sessions, codes);
    this.email = new EmailAccounts(d, mailer, users, codes, opts.email);
    this.github = new GithubAccounts(d, users, this.sessions);
    this.devices = new Devices(store, this.sessions);
    this.profile = new Profiles(d, users);
    this.admin = new Administration(d, users, this.sessions);
  }
}
