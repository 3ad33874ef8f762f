import { createHash } from 'node:crypto';
import { lookup } from 'node:dns';
import { Agent, type AgentOptions } from 'node:https';
import webpush from 'web-push';
import { DEFAULT_PUSH_HOSTS, PushEndpointPolicy } from '../pushendpoint.ts';
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
  private readonly ttlSec: number;
  private readonly agent: Agent;
  private readonly policy: PushEndpointPolicy;

  constructor(
    private readonly vapid: VapidKeys,
    opts: {
      /** Which endpoints it POSTs to; the browsers' push services by default. */
      policy?: PushEndpointPolicy;
      ttlSec?: number;
      /** Extra TLS options (tests: the CA of the local push endpoint's certificate). */
      tls?: Pick<AgentOptions, 'ca'>;
    } = {},
  ) {
    this.ttlSec = opts.ttlSec ?? 86_400;
    this.policy = opts.policy ?? new PushEndpointPolicy(DEFAULT_PUSH_HOSTS);
    // The lookup guard refuses a push host that resolves inside (DNS rebinding).
    this.agent = new Agent({ keepAlive: true, ...opts.tls, lookup: this.policy.guardLookup(lookup) });
  }

  async send(target: WebPushTarget, n: Outgoing): Promise<SendResult> {
    // Subscriptions stored before the allowlist (or a narrower one) are checked again here.
    const refused = this.policy.problem(target.endpoint);
    if (refused) return { ok: false, kind: 'rejected', error: `endpoint not allowed: ${refused}` };
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
        agent: this.agent,
      });
      return { ok: true, ...(res.headers.location ? { providerId: String(res.headers.location) } : {}) };
    } catch (err) {
      const e = err as { statusCode?: number; body?: string; message?: string; code?: string };
      if (typeof e.statusCode === 'number') return pushStatusResult(e.statusCode, e.body ?? '');
      // Resolving again will not make an internal address external: final for this delivery.
      if (e.code === 'EPUSHINTERNAL') return { ok: false, kind: 'rejected', error: e.message ?? String(err) };
      return { ok: false, kind: 'retry', error: `push service unreachable: ${e.message ?? String(err)}` };
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** A fresh VAPID key pair (the chart generates one in-cluster when none is given). */
export function generateVapidKeys(): { publicKey: string; privateKey: string } {
  return webpush.generateVAPIDKeys();
}
