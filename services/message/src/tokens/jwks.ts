import { AccessTokenVerifier, type ModuleContext } from '@parley/common';

/** The settings a role that verifies access tokens through the auth service reads. */
export interface JwksConfig {
  jwt: { jwksUrl?: string | undefined; issuer: string; audience: string };
}

/**
 * Verifies bearer tokens through the auth service's JWKS, unless the auth module runs in the same
 * process and already verifies locally (embedded mode). Every role that serves authenticated
 * routes alone in a pod (api, media) calls this from its `routes`.
 */
export function useAuthServiceJwks<C extends JwksConfig>(ctx: ModuleContext<C>): void {
  if (ctx.hasAuthenticator()) return;
  const { jwt } = ctx.cfg;
  if (!jwt.jwksUrl)
    throw new Error('in jwt.jwksUrl (AUTH_JWKS_URL): is required when the auth service runs elsewhere');
  const jwksUrl = jwt.jwksUrl;
  let verifier: AccessTokenVerifier | undefined;
  ctx.setAuthenticator(async (token) => {
    verifier ??= new AccessTokenVerifier({
      issuer: jwt.issuer,
      audience: jwt.audience,
      keys: { jwksUrl },
      cache: ctx.deps().cachePubSub,
    });
    return verifier.verify(token);
  });
}
