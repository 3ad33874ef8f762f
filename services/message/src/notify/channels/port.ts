/**
 * The notification channels' ports: one adapter per provider (SMTP, Web Push, FCM) behind each,
 * every adapter run through the same contract suite against a real local server (channels.int.test.ts).
 */

/** What one notification says, whatever carries it. */
export interface Outgoing {
  /** Stable per delivery: providers de-duplicate on it where they can (mail Message-ID). */
  idempotencyKey: string;
  /** A newer notification with the same key replaces the older on the device (per conversation). */
  collapseKey: string;
  title: string;
  body: string;
  conversationId: string;
  /** How many messages this notification stands for (1, or a collapsed burst). */
  count: number;
}

/**
 * A provider's answer, in the notifier's terms: `gone` removes the subscription, `rejected` is
 * final for this delivery only (a bounce, an oversized payload), `retry` backs off and tries again.
 */
export type SendResult =
  { ok: true; providerId?: string } | { ok: false; kind: 'gone' | 'rejected' | 'retry'; error: string };

/** A Web Push subscription (RFC 8030) with its message encryption keys (RFC 8291). */
export interface WebPushTarget {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface PushChannel<Target> {
  send(target: Target, n: Outgoing): Promise<SendResult>;
  close(): Promise<void>;
}

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
  idempotencyKey: string;
  /** One-click unsubscribe (RFC 8058): the List-Unsubscribe URL. */
  unsubscribeUrl: string;
}

export interface MailChannel {
  send(mail: Mail): Promise<SendResult>;
  close(): Promise<void>;
}

/** Largest push payload we send: Web Push's 4096-byte record less its encryption overhead. */
export const MAX_PUSH_PAYLOAD_BYTES = 3993;

/** The JSON a push carries to the service worker or app; refused when over the limit. */
export function pushPayload(n: Outgoing): { ok: true; json: string } | { ok: false; error: string } {
  const json = JSON.stringify({
    title: n.title,
    body: n.body,
    conversationId: n.conversationId,
    count: n.count,
    tag: n.collapseKey,
  });
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_PUSH_PAYLOAD_BYTES)
    return { ok: false, error: `payload too large: ${bytes} bytes (limit ${MAX_PUSH_PAYLOAD_BYTES})` };
  return { ok: true, json };
}
