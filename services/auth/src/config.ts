import { commonSettings, field, optionalField, parse, smtpSettings } from '@parley/common';

const duration = (min: number, max: number) => parse.int(min, max);

/** The auth service's settings. */
export const authSettings = {
  ...commonSettings,
  ...smtpSettings,
  auth: {
    issuer: field(parse.string(), {
      env: 'JWT_ISSUER',
      default: 'parley-auth',
      doc: 'The `iss` claim of access tokens; verifiers accept only this issuer.',
    }),
    audience: field(parse.string(), {
      env: 'JWT_AUDIENCE',
      default: 'parley',
      doc: 'The `aud` claim of access tokens; verifiers accept only this audience.',
    }),
    signingKeys: optionalField(parse.string(), {
      env: 'JWT_SIGNING_KEYS',
      secret: true,
      doc: 'JSON array of private Ed25519 JWKs with `kid` (from a Secret). The first signs; the rest stay valid for verification until their tokens expire. Absent: a key is generated once and kept in DATA_DIR (embedded mode only).',
    }),
    signingKeysFile: optionalField(parse.string(), {
      env: 'JWT_SIGNING_KEYS_FILE',
      doc: 'Path of a file holding the JWT_SIGNING_KEYS JSON (a mounted Secret); re-read on SIGHUP-free restarts.',
    }),
    accessTtlSec: field(duration(30, 86_400), {
      env: 'ACCESS_TOKEN_TTL_SECONDS',
      default: '900',
      doc: 'Lifetime of access tokens.',
    }),
    refreshTtlSec: field(duration(300, 365 * 86_400), {
      env: 'REFRESH_TOKEN_TTL_SECONDS',
      default: '2592000',
      doc: 'Lifetime of a session without refresh activity (sliding).',
    }),
    legacyAdminUsernames: optionalField(parse.list(), {
      env: 'AUTH_ADMIN_USERNAMES',
      doc: 'Removed: it made whoever registered a listed name first an admin. Ignored, with a warning at start-up; use AUTH_ADMIN_BOOTSTRAP_SECRET.',
    }),
    adminBootstrapSecret: optionalField(parse.string().min(32, 'must be at least 32 characters'), {
      env: 'AUTH_ADMIN_BOOTSTRAP_SECRET',
      secret: true,
      doc: 'One-time secret (from a Secret, at least 32 characters) that makes the signed-in caller of POST /v1/auth/admin-bootstrap an admin. Each value works once (claimed in the store); set a new value to make another admin. Absent: the endpoint refuses. Admin is never granted by username.',
    }),
  },
  otp: {
    ttlSec: field(duration(60, 3600), {
      env: 'OTP_TTL_SECONDS',
      default: '300',
      doc: 'How long an SMS code stays valid.',
    }),
    maxAttempts: field(parse.int(1, 20), {
      env: 'OTP_MAX_ATTEMPTS',
      default: '5',
      doc: 'Wrong guesses allowed per code before it is burned.',
    }),
    resendCooldownSec: field(duration(0, 3600), {
      env: 'OTP_RESEND_COOLDOWN_SECONDS',
      default: '30',
      doc: 'Minimum time between two codes sent to one phone.',
    }),
  },
  email: {
    ttlSec: field(duration(300, 7 * 86_400), {
      env: 'EMAIL_VERIFY_TTL_SECONDS',
      default: '3600',
      doc: 'How long a mailed email verification code and link stay valid (attempts and resend cooldown as for SMS codes: OTP_MAX_ATTEMPTS, OTP_RESEND_COOLDOWN_SECONDS).',
    }),
    linkUrl: optionalField(parse.url(['http', 'https']), {
      env: 'EMAIL_VERIFY_URL',
      doc: 'Page a verification mail links to, with `?token=…` added; it should POST the token to /v1/users/me/email/verify for the signed-in user. Absent: the mail carries only the code.',
    }),
  },
  limits: {
    registerPer15Min: field(parse.int(1, 100_000), {
      env: 'RATE_LIMIT_REGISTER_PER_15MIN',
      default: '5',
      doc: 'Registrations and SMS or mail codes per client IP per 15 minutes, and the same again per target: registrations per email and per phone, codes per phone and per email, verification codes per account.',
    }),
    loginFailuresPer15Min: field(parse.int(1, 100_000), {
      env: 'RATE_LIMIT_LOGIN_FAILURES_PER_15MIN',
      default: '5',
      doc: 'Failed logins per (client IP, login) per 15 minutes before that pair is locked out for the rest of the window.',
    }),
    accountFailuresBeforeDelay: field(parse.int(1, 100_000), {
      env: 'LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY',
      default: '10',
      doc: 'Failed logins for one login name, from any address, within an hour before that account answers LOGIN_DELAYED: each further failure doubles the wait (1 s, 2 s, 4 s …).',
    }),
    accountMaxDelaySec: field(duration(1, 86_400), {
      env: 'LOGIN_ACCOUNT_MAX_DELAY_SECONDS',
      default: '900',
      doc: 'Ceiling of the per-account back-off.',
    }),
    proofOfWorkBits: field(parse.int(0, 32), {
      env: 'LOGIN_PROOF_OF_WORK_BITS',
      default: '20',
      doc: 'Leading zero bits of SHA-256 a client must find to sign in during a per-account back-off without waiting (20: about a million SHA-256, 2.7 s on average with Node’s crypto on a 2-core machine). The owner pays it once; a guesser pays it per guess. 0 turns the bypass off.',
    }),
  },
  github: {
    clientId: optionalField(parse.string(), {
      env: 'GITHUB_CLIENT_ID',
      doc: 'GitHub OAuth app client id. Absent: GitHub sign-in is off.',
    }),
    clientSecret: optionalField(parse.string(), {
      env: 'GITHUB_CLIENT_SECRET',
      secret: true,
      doc: 'GitHub OAuth app client secret.',
    }),
    redirectUrl: optionalField(parse.url(['http', 'https']), {
      env: 'GITHUB_REDIRECT_URL',
      doc: 'This service’s public callback URL, registered with the OAuth app (…/v1/auth/github/callback).',
    }),
    webUrl: field(parse.url(['http', 'https']), {
      env: 'GITHUB_WEB_URL',
      default: 'https://github.com',
      doc: 'GitHub web base (authorize and access_token endpoints); GitHub Enterprise or tests override it.',
    }),
    apiUrl: field(parse.url(['http', 'https']), {
      env: 'GITHUB_API_URL',
      default: 'https://api.github.com',
      doc: 'GitHub REST API base (/user, /user/emails).',
    }),
  },
  inactivity: {
    blockAfterDays: optionalField(parse.int(1, 36_500), {
      env: 'INACTIVE_BLOCK_AFTER_DAYS',
      doc: 'Block users inactive for longer than this many days. Absent: the inactivity job is off.',
    }),
    intervalSec: field(duration(10, 86_400), {
      env: 'INACTIVE_SWEEP_INTERVAL_SECONDS',
      default: '3600',
      doc: 'How often the inactivity job runs (one replica at a time, through a lock in the cache).',
    }),
  },
  topics: {
    userEvents: field(parse.string(), {
      env: 'TOPIC_USER_EVENTS',
      default: 'user.events',
      doc: 'Kafka topic for user events.',
    }),
    partitions: field(parse.int(1, 10_000), {
      env: 'TOPIC_USER_EVENTS_PARTITIONS',
      default: '3',
      doc: 'Partitions when the auth service creates the user events topic (the operator may own it instead).',
    }),
  },
};
