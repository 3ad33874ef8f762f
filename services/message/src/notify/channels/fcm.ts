import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { pushPayload, type Outgoing, type PushChannel, type SendResult } from './port.ts';

/** The fields of a Google service-account key file that FCM's OAuth exchange needs. */
export interface ServiceAccount {
  project_id: string;
  client_email: string;
  private_key: string;
  /** Default https://oauth2.googleapis.com/token. */
  token_uri?: string;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** The RS256 JWT a service account exchanges for an access token (RFC 7523). */
export function serviceAccountAssertion(sa: ServiceAccount, key: KeyObject, nowSec: number): string {
  const head = b64({ alg: 'RS256', typ: 'JWT' });
  const claims = b64({
    iss: sa.client_email,
    scope: SCOPE,
    aud: sa.token_uri ?? 'https://oauth2.googleapis.com/token',
    iat: nowSec,
    exp: nowSec + 3600,
  });
  const sig = sign('RSA-SHA256', Buffer.from(`${head}.${claims}`), key).toString('base64url');
  return `${head}.${claims}.${sig}`;
}

/** FCM v1's error, in the notifier's terms: UNREGISTERED (404) removes the token. */
export function fcmResult(status: number, body: string): SendResult {
  let code = '';
  try {
    const e = (JSON.parse(body) as { error?: { status?: string; details?: { errorCode?: string }[] } }).error;
    code = e?.details?.find((d) => d.errorCode)?.errorCode ?? e?.status ?? '';
  } catch {
    // not JSON: the status decides
  }
  if (status === 404 || code === 'UNREGISTERED')
    return { ok: false, kind: 'gone', error: `fcm: token unregistered (${status})` };
  if (status === 429 || status >= 500 || code === 'UNAVAILABLE' || code === 'INTERNAL')
    return { ok: false, kind: 'retry', error: `fcm ${status} ${code}` };
  return { ok: false, kind: 'rejected', error: `fcm ${status} ${code}: ${body.slice(0, 200)}` };
}

/** Mobile push through FCM HTTP v1: OAuth with the service account, then messages:send. */
export class FcmChannel implements PushChannel<{ token: string }> {
  private readonly key: KeyObject;
  private token?: { value: string; expiresAt: number };

  constructor(
    private readonly sa: ServiceAccount,
    /** https://fcm.googleapis.com, or a local fake in tests. */
    private readonly endpoint = 'https://fcm.googleapis.com',
    private readonly now: () => number = Date.now,
  ) {
    this.key = createPrivateKey(sa.private_key);
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt > this.now() + 60_000) return this.token.value;
    const res = await fetch(this.sa.token_uri ?? 'https://oauth2.googleapis.com/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: serviceAccountAssertion(this.sa, this.key, Math.floor(this.now() / 1000)),
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number };
    if (!res.ok || !body.access_token) throw new Error(`fcm oauth: ${res.status}`);
    this.token = { value: body.access_token, expiresAt: this.now() + (body.expires_in ?? 3600) * 1000 };
    return body.access_token;
  }

  async send(target: { token: string }, n: Outgoing): Promise<SendResult> {
    const payload = pushPayload(n);
    if (!payload.ok) return { ok: false, kind: 'rejected', error: payload.error };
    const message = {
      token: target.token,
      notification: { title: n.title, body: n.body },
      data: { conversationId: n.conversationId, count: String(n.count) },
      android: { collapse_key: n.collapseKey, notification: { tag: n.collapseKey } },
      apns: { headers: { 'apns-collapse-id': n.collapseKey.slice(0, 64) } },
    };
    try {
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(`${this.endpoint}/v1/projects/${this.sa.project_id}/messages:send`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${await this.accessToken()}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ message }),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        if (res.ok) return { ok: true, providerId: (JSON.parse(text) as { name: string }).name };
        // An access token revoked early: fetch a new one, once.
        if (res.status === 401 && attempt === 0) {
          this.token = undefined;
          continue;
        }
        return fcmResult(res.status, text);
      }
    } catch (err) {
      return { ok: false, kind: 'retry', error: `fcm unreachable: ${(err as Error).message}` };
    }
  }

  async close(): Promise<void> {}
}
