import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
import { ACCESS_TOKEN_ALG } from '@parley/common';
import type { KeyRing } from './keys.ts';

export interface TokenPair {
  tokenType: 'Bearer';
  accessToken: string;
  accessTokenExpiresAt: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
  sessionId: string;
}

export interface ParsedRefresh {
  sessionId: string;
  gen: number;
  secret: string;
}

const REFRESH = /^rt1\.([0-9a-f-]{36})\.(\d{1,9})\.([A-Za-z0-9_-]{43})$/;

/** A refresh token names its session and generation; only a hash of its secret is stored. */
export function newRefreshToken(sessionId: string, gen: number): { token: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { token: `rt1.${sessionId}.${gen}.${secret}`, hash: hashSecret(secret) };
}

export function parseRefreshToken(token: string): ParsedRefresh | null {
  const m = REFRESH.exec(token);
  return m ? { sessionId: m[1]!, gen: Number(m[2]), secret: m[3]! } : null;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface AccessClaims {
  userId: string;
  sessionId: string;
  roles: readonly string[];
}

export class TokenIssuer {
  constructor(
    private readonly keys: () => KeyRing,
    private readonly opts: { issuer: string; audience: string; accessTtlSec: number },
  ) {}

  async access(c: AccessClaims, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
    const iat = Math.floor(now / 1000);
    const exp = iat + this.opts.accessTtlSec;
    const { current } = this.keys();
    const token = await new SignJWT({ sid: c.sessionId, roles: [...c.roles] })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, kid: current.kid, typ: 'at+jwt' })
      .setSubject(c.userId)
      .setIssuer(this.opts.issuer)
      .setAudience(this.opts.audience)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(current.privateKey);
    return { token, expiresAt: exp * 1000 };
  }
}
