import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Unsubscribe tokens: `base64url(userId).expiry.base64url(HMAC-SHA256(secret, "unsubscribe:" +
 * userId + ":" + expiry))`, expiry in epoch seconds (base 36). A token only ever turns mail off
 * for the user it names; the expiry bounds how long a leaked mail keeps that power (every new
 * mail carries a fresh one, so NOTIFY_UNSUBSCRIBE_TTL_DAYS is how old a mail may be).
 */
export function unsubscribeToken(secret: string, userId: string, expiresAtSec: number): string {
  const exp = Math.floor(expiresAtSec).toString(36);
  return `${Buffer.from(userId).toString('base64url')}.${exp}.${sign(secret, userId, exp)}`;
}

function sign(secret: string, userId: string, exp: string): string {
  return createHmac('sha256', secret).update(`unsubscribe:${userId}:${exp}`).digest('base64url');
}

/** Shape of a token in a query string (the route's schema refuses anything else). */
export const UNSUBSCRIBE_TOKEN = /^[A-Za-z0-9_-]{1,400}\.[0-9a-z]{1,12}\.[A-Za-z0-9_-]{43}$/;

export type TokenCheck = { ok: true; userId: string } | { ok: false; reason: 'invalid' | 'expired' };

/**
 * The user a token names; `invalid` when it is malformed or not ours, `expired` when ours but
 * past its expiry (checked after the signature, so a forged token never reads as expired).
 */
export function checkUnsubscribeToken(secret: string, token: string, nowSec: number): TokenCheck {
  if (!UNSUBSCRIBE_TOKEN.test(token)) return { ok: false, reason: 'invalid' };
  const [id, exp, sig] = token.split('.') as [string, string, string];
  const userId = Buffer.from(id, 'base64url').toString('utf8');
  const want = Buffer.from(sign(secret, userId, exp));
  const got = Buffer.from(sig);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: 'invalid' };
  if (parseInt(exp, 36) <= nowSec) return { ok: false, reason: 'expired' };
  return { ok: true, userId };
}

/** What a one-click POST must carry (RFC 8058 §3.1), in either encoding the route reads. */
export const ONE_CLICK = { key: 'List-Unsubscribe', value: 'One-Click' } as const;
