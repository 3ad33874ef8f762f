import { createHash } from 'node:crypto';
import type { Agent } from 'node:https';
import webpush from 'web-push';
import { pushPayload, type Outgoing, type PushChannel, type SendResult, type WebPushTarget } from './port.ts';

export interface VapidKeys {
  /** The application server's P-256 public key, base64url (given to browsers as applicationServerKey). */
  publicKey: string;
  privateKey: string;
  /** A mailto: or https: contact for the push service operator. */
  subject: string;
}

/** A push service's HTTP status, in the notifier's terms (RFC 8030 §5, 404/410: unsubscribed). */
export function pushStatusResult(status: number, body: string): SendResult {
  if (status === 404 || status === 410)
    return { ok: false, kind: 'gone', error: `subscription gone (${status})` };
  if (status === 413)
    return { ok: false, kind: 'rejected', error: `payload too large (413 from the push service)` };
  if (status === 429 || status >= 500)
    return { ok: false, kind: 'retry', error: `push service ${status}: ${body}` };
  return { ok: false, kind: 'rejected', error: `push service ${status}: ${body}` };
}

/** Web Push (RFC 8030) with aes128gcm payload encryption (RFC 8291) and VAPID (RFC 8292). */
export class WebPushChannel implements PushChannel<WebPushTarget> {
  constructor(
    private readonly vapid: VapidKeys,
    private readonly ttlSec = 86_400,
    /** An HTTPS agent (tests: one that trusts the local push endpoint's certificate). */
    private readonly agent?: Agent,
  ) {}

  async send(target: WebPushTarget, n: Outgoing): Promise<SendResult> {
    const payload = pushPayload(n);
    if (!payload.ok) return { ok: false, kind: 'rejected', error: payload.error };
    try {
      const res = await webpush.sendNotification(target, payload.json, {
        vapidDetails: this.vapid,
        TTL: this.ttlSec,
        contentEncoding: 'aes128gcm',
        urgency: 'normal',
        // RFC 8030 Topic (≤ 32 base64url chars): a newer push for the conversation replaces an
        // undelivered older one at the push service.
        topic: createHash('sha256').update(n.collapseKey).digest('base64url').slice(0, 32),
        timeout: 10_000,
        ...(this.agent ? { agent: this.agent } : {}),
      });
      return { ok: true, ...(res.headers.location ? { providerId: String(res.headers.location) } : {}) };
    } catch (err) {
      const e = err as { statusCode?: number; body?: string; message?: string };
      if (typeof e.statusCode === 'number') return pushStatusResult(e.statusCode, e.body ?? '');
      return { ok: false, kind: 'retry', error: `push service unreachable: ${e.message ?? String(err)}` };
    }
  }

  async close(): Promise<void> {}
}

/** A fresh VAPID key pair (the chart generates one in-cluster when none is given). */
export function generateVapidKeys(): { publicKey: string; privateKey: string } {
  return webpush.generateVAPIDKeys();
}
