import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Unsubscribe tokens: `base64url(userId).base64url(HMAC-SHA256(secret, "unsubscribe:" + userId))`.
 * No expiry: a link in an old mail must still work (RFC 8058 one-click), and it can only turn
 * mail off for the user it names.
 */
export function unsubscribeToken(secret: string, userId: string): string {
  const sig = createHmac('sha256', secret).update(`unsubscribe:${userId}`).digest('base64url');
  return `${Buffer.from(userId).toString('base64url')}.${sig}`;
}

/** The user a token names, or undefined when it is malformed or not ours. */
export function verifyUnsubscribeToken(secret: string, token: string): string | undefined {
  const [id, sig] = token.split('.');
  if (!id || !sig || token.split('.').length !== 2) return undefined;
  const userId = Buffer.from(id, 'base64url').toString('utf8');
  const want = Buffer.from(unsubscribeToken(secret, userId).split('.')[1]!);
  const got = Buffer.from(sig);
  return got.length === want.length && timingSafeEqual(got, want) ? userId : undefined;
}
