import { join } from 'node:path';
import {
  AccessTokenVerifier,
  problems,
  type Infer,
  type Logger,
  type Mailer,
  type ServiceModule,
} from '@parley/common';
import { Accounts } from './accounts.ts';
import type { authSettings } from './config.ts';
import { authErrors } from './errors.ts';
import { UserEvents } from './events.ts';
import { GithubHttpApi } from './github/http.ts';
import { GithubOAuth } from './github/oauth.ts';
import { loadKeyRing, type KeyRing } from './keys.ts';
import { AuthMetrics } from './metrics.ts';
import { authRoutes } from './routes.ts';
import { AuthStore } from './store.ts';
import { TokenIssuer } from './tokens.ts';

export type AuthConfig = Infer<typeof authSettings>;

/**
 * Where verification mail goes: SMTP when SMTP_URL is set; else, in embedded mode (no MONGO_URL),
 * the log, since one machine often has no mail server and its user reads the log anyway; else
 * nowhere (EMAIL_DISABLED), so a cluster never writes codes to its logs.
 */
export async function mailerOf(cfg: AuthConfig, logger: Logger): Promise<Mailer | undefined> {
  const { SmtpMailer, ConsoleMailer } = await import('@parley/common/mail');
  if (cfg.smtp.url) return new SmtpMailer({ url: cfg.smtp.url, from: cfg.smtp.from });
  if (!cfg.mongo.url) return new ConsoleMailer(logger.child({ adapter: 'mail-console' }));
  logger.warn('SMTP_URL is not set: email verification answers EMAIL_DISABLED');
  return undefined;
}

/** The auth service as a module a process can host: alone in Kubernetes, or beside others embedded. */
export function authModule<C extends AuthConfig>(
  /** Tests pass the embedded adapter to read its outbox; by default it comes from config. */
  mailer?: Mailer,
): ServiceModule<C> {
  let keys: KeyRing | undefined;
  let accounts: Accounts | undefined;
  let github: GithubOAuth | undefined;
  let authMetrics: AuthMetrics;
  const ring = () => {
    if (!keys) throw problems.UNAVAILABLE('signing keys are not loaded');
    return keys;
  };

  return {
    name: 'auth',
    async routes(_app, ctx) {
      const { cfg, logger } = ctx;
      keys = await loadKeyRing({
        keysJson: cfg.auth.signingKeys,
        keysFile: cfg.auth.signingKeysFile,
        generatedPath: join(cfg.dataDir, 'jwt-signing-keys.json'),
        onGenerated: (path) =>
          logger.warn(
            { path },
            'generated a JWT signing key; set JWT_SIGNING_KEYS (from a Secret) when running more than one replica',
          ),
      });
      const verifier = { current: undefined as AccessTokenVerifier | undefined };
      ctx.setAuthenticator(async (token) => {
        verifier.current ??= new AccessTokenVerifier({
          issuer: cfg.auth.issuer,
          audience: cfg.auth.audience,
          keys: { jwks: () => ring().jwks },
          cache: ctx.deps().cachePubSub,
        });
        const principal = await verifier.current.verify(token);
        // The in-process cache forgets revocations on restart; the session record does not.
        // With Redis the marker outlives the token, so the extra read is only paid embedded.
        if (
          ctx.deps().cachePubSub.kind === 'memory' &&
          accounts &&
          (await accounts.sessions.isRevoked(principal.sessionId))
        )
          throw problems.UNAUTHENTICATED('session revoked; sign in again');
        return principal;
      });
      ctx.api.addCatalogue(authErrors);
      authMetrics = new AuthMetrics(ctx.metrics.registry);
      authRoutes(ctx.api, {
        accounts: () => {
          if (!accounts) throw problems.UNAVAILABLE('auth service is starting');
          return accounts;
        },
        github: () => github,
        keys: ring,
      });
    },

    async start(ctx) {
      const { cfg, logger } = ctx;
      const deps = ctx.deps();
      await deps.events.ensureTopics([{ name: cfg.topics.userEvents, partitions: cfg.topics.partitions }]);
      const store = await AuthStore.open(deps.store);
      if (cfg.auth.legacyAdminUsernames?.length)
        logger.warn(
          'AUTH_ADMIN_USERNAMES is ignored (anyone could register a listed name first); grant admin with AUTH_ADMIN_BOOTSTRAP_SECRET and POST /v1/auth/admin-bootstrap',
        );
      const tokens = new TokenIssuer(ring, {
        issuer: cfg.auth.issuer,
        audience: cfg.auth.audience,
        accessTtlSec: cfg.auth.accessTtlSec,
      });
      const mail = mailer ?? (await mailerOf(cfg, logger));
      accounts = new Accounts(
        store,
        deps.cachePubSub,
        deps.sms,
        mail,
        new UserEvents(deps.events, cfg.topics.userEvents),
        tokens,
        {
          accessTtlSec: cfg.auth.accessTtlSec,
          refreshTtlSec: cfg.auth.refreshTtlSec,
          otp: cfg.otp,
          limits: cfg.limits,
          adminBootstrapSecret: cfg.auth.adminBootstrapSecret,
          email: cfg.email,
        },
        logger,
        authMetrics,
      );
      const gh = cfg.github;
      if (gh.clientId && gh.clientSecret && gh.redirectUrl)
        github = new GithubOAuth(
          new GithubHttpApi({
            clientId: gh.clientId,
            clientSecret: gh.clientSecret,
            redirectUrl: gh.redirectUrl,
            webUrl: gh.webUrl,
            apiUrl: gh.apiUrl,
          }),
          deps.cachePubSub,
        );
      else if (gh.clientId)
        logger.warn(
          'GITHUB_CLIENT_ID is set without GITHUB_CLIENT_SECRET and GITHUB_REDIRECT_URL: GitHub sign-in is off',
        );

      let timer: NodeJS.Timeout | undefined;
      let running: Promise<void> | undefined;
      const days = cfg.inactivity.blockAfterDays;
      if (days !== undefined) {
        const sweep = async () => {
          // One replica per interval: the lock expires with the interval instead of being released.
          const owner = `${process.pid}-${Math.random()}`;
          if (
            !(await deps.cachePubSub.set('auth:lock:inactivity-sweep', owner, {
              ttlMs: cfg.inactivity.intervalSec * 1000,
              onlyIfAbsent: true,
            }))
          )
            return;
          const n = await accounts!.admin.blockInactive(Date.now() - days * 86_400_000);
          await store.purgeOtps(Date.now() - 86_400_000);
          if (n > 0) logger.info({ blocked: n, afterDays: days }, 'blocked inactive users');
        };
        const tick = () => {
          running = sweep().catch((err: unknown) => logger.error({ err }, 'inactivity sweep failed'));
        };
        tick();
        timer = setInterval(tick, cfg.inactivity.intervalSec * 1000);
        timer.unref();
      }
      return async () => {
        if (timer) clearInterval(timer);
        await running;
        await mail?.close();
      };
    },
  };
}
