import type { ApiTransport } from './transport.ts';
import type { RequestBody, ResponseBody } from './types.ts';

export type NotificationPage = ResponseBody<'/v1/notifications', 'get'>;
export type Notification = NotificationPage['items'][number];
export type NotificationPreferences = ResponseBody<'/v1/notifications/preferences', 'get'>;
export type PushSubscriptionInput = RequestBody<'/v1/push/subscriptions/{deviceId}', 'put'>;
export type PushDevice = ResponseBody<'/v1/push/subscriptions/{deviceId}', 'put'>;

const enc = encodeURIComponent;

/**
 * Notifications for messages that reached you while you were offline, their preferences
 * (channels, quiet hours, muted conversations) and the push subscriptions of your devices.
 */
export class ParleyNotifications {
  constructor(private readonly api: ApiTransport) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.api.request<T>(method, path, body)).body;
  }

  /** Your notifications, newest first, with the unread count; `before` (a createdAt) pages back. */
  list(page: { limit?: number; before?: string; unread?: boolean } = {}): Promise<NotificationPage> {
    const query = { ...page, unread: page.unread === undefined ? undefined : String(page.unread) };
    return this.api
      .request<NotificationPage>('GET', '/v1/notifications', undefined, { query })
      .then((r) => r.body);
  }

  /** Marks notifications read, by id or `'all'`; answers how many changed. */
  async markRead(ids: readonly string[] | 'all'): Promise<number> {
    const body = ids === 'all' ? { all: true } : { ids };
    return (await this.call<{ updated: number }>('POST', '/v1/notifications/read', body)).updated;
  }

  /** Your preferences: email (off, instant, digest), web and mobile push, quiet hours, mutes. */
  preferences(): Promise<NotificationPreferences> {
    return this.call('GET', '/v1/notifications/preferences');
  }

  /** Replaces your preferences. */
  setPreferences(prefs: NotificationPreferences): Promise<NotificationPreferences> {
    return this.call('PUT', '/v1/notifications/preferences', prefs);
  }

  /** Mutes a conversation (until an ISO time, or for good); unmutes with `until: null`. */
  async mute(conversationId: string, until?: string | null): Promise<NotificationPreferences> {
    const prefs = await this.preferences();
    const muted = prefs.muted.filter((m) => m.conversationId !== conversationId);
    if (until !== null) muted.push({ conversationId, ...(until ? { until } : {}) });
    return this.setPreferences({ ...prefs, muted });
  }

  /** The VAPID public key to pass to PushManager.subscribe() as applicationServerKey. */
  async vapidPublicKey(): Promise<string> {
    const r = await this.api.request<{ publicKey: string }>('GET', '/v1/push/vapid-key', undefined, {
      auth: false,
    });
    return r.body.publicKey;
  }

  /** Your devices registered for push. */
  async pushDevices(): Promise<PushDevice[]> {
    return (await this.call<{ items: PushDevice[] }>('GET', '/v1/push/subscriptions')).items;
  }

  /** Registers (or replaces) a device's push subscription: Web Push keys or an FCM token. */
  registerPush(deviceId: string, subscription: PushSubscriptionInput): Promise<PushDevice> {
    return this.call('PUT', `/v1/push/subscriptions/${enc(deviceId)}`, subscription);
  }

  /** Registers a browser's PushSubscription (its `toJSON()`) for a device. */
  async registerWebPush(
    deviceId: string,
    subscription: { endpoint?: string; keys?: Record<string, string> },
  ): Promise<PushDevice> {
    const { endpoint, keys } = subscription;
    if (!endpoint || !keys?.p256dh || !keys.auth)
      throw new TypeError('a PushSubscription with endpoint and keys');
    return this.registerPush(deviceId, {
      class: 'web',
      endpoint,
      keys: { p256dh: keys.p256dh, auth: keys.auth },
    });
  }

  /** Removes a device's push subscription (nothing happens when there is none). */
  async removePush(deviceId: string): Promise<void> {
    await this.call('DELETE', `/v1/push/subscriptions/${enc(deviceId)}`);
  }
}
