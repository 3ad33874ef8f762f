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
  /** Tokens whose signature and claims are remembered as verified (0: none); see VERIFIED_*. */
  verifiedCacheSize?: number;
  /** The clock (ms), for tests. */
  now?: () => number;
}

/** Tokens remembered as verified, at most (about 0.5 KB each). */
export const VERIFIED_CACHE_SIZE = 10_000;
/**
 * How long a token is taken as verified without checking its signature again: a key withdrawn
 * from the key set stops working within this time. Expiry and revocation are checked every time.
 */
export const VERIFIED_TTL_MS = 60_000;

interface Verified {
  userId: string;
  sessionId: string;
  roles: string[];
  /** exp, in ms. */
  expiresAt: number;
  /** When the signature must be checked again (ms). */
  until: number;
}

/**
 * Verifies access tokens with the auth service's public keys (JWKS, cached by jose and refetched
 * when an unknown kid appears), then checks the session has not been revoked.
 */
export class AccessTokenVerifier {
  private readonly getKey: JWTVerifyGetKey;
  /**
   * Tokens verified lately, by the whole token string (signature included, so a token that
   * differs in any byte is verified afresh). An Ed25519 verification with its decoding is about
   * 150 µs here, and a REST client sends the same token with every request (#19).
   */
  private readonly verified = new Map<string, Verified>();

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
    const now = this.opts.now?.() ?? Date.now();
    const skew = this.opts.clockToleranceSec ?? 5;
    let v = this.verified.get(token);
    if (v && now >= v.until) {
      this.verified.delete(token);
      v = undefined;
    }
    // As jose decides it: expired once exp is more than the tolerance in the past.
    if (v && v.expiresAt <= now - skew * 1000) {
      this.verified.delete(token);
      throw problems.UNAUTHENTICATED('access token expired; refresh it');
    }
    v ??= await this.verifySignature(token, now, skew);
    let revoked: string | null;
    try {
      revoked = await this.opts.cache.get(revokedSessionKey(v.sessionId));
    } catch {
      throw problems.UNAVAILABLE('revocation check unavailable; retry');
    }
    if (revoked !== null) throw problems.UNAUTHENTICATED('session revoked; sign in again');
    return { userId: v.userId, sessionId: v.sessionId, roles: [...v.roles], token, expiresAt: v.expiresAt };
  }

  /** Checks the token's signature and claims, and remembers it as verified. */
  private async verifySignature(token: string, now: number, skew: number): Promise<Verified> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        algorithms: [ACCESS_TOKEN_ALG],
        typ: ACCESS_TOKEN_TYP,
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        clockTolerance: skew,
        currentDate: new Date(now),
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
    if (typeof payload.iat !== 'number' || payload.iat > now / 1000 + skew)
      throw problems.UNAUTHENTICATED('invalid access token');
    const sid = payload.sid;
    const roles = payload.roles;
    if (typeof payload.sub !== 'string' || typeof sid !== 'string' || !Array.isArray(roles))
      throw problems.UNAUTHENTICATED('invalid access token');
    const v: Verified = {
      userId: payload.sub,
      sessionId: sid,
      roles: roles.filter((r): r is string => typeof r === 'string'),
      expiresAt: (payload.exp ?? 0) * 1000,
      until: now + VERIFIED_TTL_MS,
    };
    const size = this.opts.verifiedCacheSize ?? VERIFIED_CACHE_SIZE;
    if (size > 0) {
      // Full: the oldest entry goes (a Map iterates in insertion order).
      if (this.verified.size >= size) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, v);
    }
    return v;
  }
}
