import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import type { Principal } from './api.ts';
import type { Cache } from './cache/port.ts';
import { problems } from './errors.ts';

/** The only algorithm Parley signs with; pinning it defeats alg=none and key-confusion attacks. */
export const ACCESS_TOKEN_ALG = 'EdDSA';
/** The `typ` header the auth service signs access tokens with (RFC 9068); other JWTs are not access tokens. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** Cache key marking a session revoked, so access tokens carrying its sid stop working at once. */
/**
 * Cache channel on which the auth service announces revocations (`{sessionId, userId, reason}`),
 * so gateways close the session's open sockets at once instead of at token expiry.
 */
export const REVOCATIONS_CHANNEL = 'auth:revocations';

export function revokedSessionKey(sessionId: string): string {
  return `auth:revoked-session:${sessionId}`;
}

export interface VerifierOptions {
  issuer: string;
  audience: string;
  /** Where public keys come from: the auth service's JWKS URL, or a key set in this process. */
  keys: { jwksUrl: string } | { jwks: () => JSONWebKeySet };
  cache: Cache;
  clockToleranceSec?: number;
  /** Minimum time between two JWKS fetches (an unknown kid triggers one). */
  jwksCooldownMs?: number;
}

/**
 * Verifies access tokens with the auth service's public keys (JWKS, cached by jose and refetched
 * when an unknown kid appears), then checks the session has not been revoked.
 */
export class AccessTokenVerifier {
  private readonly getKey: JWTVerifyGetKey;

  constructor(private readonly opts: VerifierOptions) {
    if ('jwksUrl' in opts.keys) {
      this.getKey = createRemoteJWKSet(new URL(opts.keys.jwksUrl), {
        cooldownDuration: opts.jwksCooldownMs ?? 5_000,
        cacheMaxAge: 10 * 60_000,
      });
    } else {
      const source = opts.keys.jwks;
      // Rebuilt only when the source hands out a different key set (rotation), not per request.
      let built: { jwks: JSONWebKeySet; getKey: JWTVerifyGetKey } | undefined;
      this.getKey = (header, token) => {
        const jwks = source();
        if (built?.jwks !== jwks) built = { jwks, getKey: createLocalJWKSet(jwks) };
        return built.getKey(header, token);
      };
    }
  }

  async verify(token: string): Promise<Principal> {
    let payload;
    const skew = this.opts.clockToleranceSec ?? 5;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        algorithms: [ACCESS_TOKEN_ALG],
        typ: ACCESS_TOKEN_TYP,
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        clockTolerance: skew,
        requiredClaims: ['sub', 'sid', 'exp', 'iat'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired)
        throw problems.UNAUTHENTICATED('access token expired; refresh it');
      // Only a verdict on the token is UNAUTHENTICATED; a key set that cannot be fetched is our
      // outage, and clients must retry rather than sign in again.
      if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError))
        throw problems.UNAVAILABLE('token keys are unavailable; retry');
      throw problems.UNAUTHENTICATED('invalid access token');
    }
    // jose accepts any iat; a token from the future is minted by a clock we do not trust.
    if (typeof payload.iat !== 'number' || payload.iat > Date.now() / 1000 + skew)
      throw problems.UNAUTHENTICATED('invalid access token');
    const sid = payload.sid;
    const roles = payload.roles;
    if (typeof payload.sub !== 'string' || typeof sid !== 'string' || !Array.isArray(roles))
      throw problems.UNAUTHENTICATED('invalid access token');
    let revoked: string | null;
    try {
      revoked = await this.opts.cache.get(revokedSessionKey(sid));
    } catch {
      throw problems.UNAVAILABLE('revocation check unavailable; retry');
    }
    if (revoked !== null) throw problems.UNAUTHENTICATED('session revoked; sign in again');
    return {
      userId: payload.sub,
      sessionId: sid,
      roles: roles.filter((r): r is string => typeof r === 'string'),
      token,
      expiresAt: (payload.exp ?? 0) * 1000,
    };
  }
}
