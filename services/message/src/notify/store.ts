import { q, type Collection, type Doc, type DocumentStore } from '@parley/common';
import { defaultPrefs, type DeviceClass, type NotifyPrefs, type WindowState } from './decide.ts';

/** One stored notification: what the user's notification list shows (one per message). */
export interface Notification extends Doc {
  userId: string;
  conversationId: string;
  messageId: string;
  senderId: string;
  /** The message's text (cleartext conversations), else a neutral line. */
  text: string;
  createdAt: string;
  readAt?: string;
}

export interface PrefsDoc extends Doc, NotifyPrefs {
  updatedAt: string;
}

/** A push subscription of one device: Web Push (endpoint + keys) or FCM (registration token). */
export interface PushSubscription extends Doc {
  userId: string;
  deviceId: string;
  class: Exclude<DeviceClass, 'email'>;
  /** Web Push: the push service URL. */
  endpoint?: string;
  keys?: { p256dh: string; auth: string };
  /** FCM: the app instance's registration token. */
  token?: string;
  createdAt: string;
}

export interface WindowDoc extends Doc, WindowState {
  closesAt: number;
  /** The newest message's seq: a window the user has read up to by its end sends nothing. */
  lastSeq: number;
}

/** One provider send, by idempotency key: `sent` is never sent again, `pending` is retried. */
export interface Delivery extends Doc {
  status: 'pending' | 'sent' | 'failed' | 'gone';
  channel: DeviceClass;
  userId: string;
  attempts: number;
  error?: string;
  at: string;
}

/** A burst waiting for the user's digest mail. */
export interface DigestEntry extends Doc {
  userId: string;
  conversationId: string;
  count: number;
  title: string;
  text: string;
  at: number;
}

/** The notifier's and the notification routes' data on the document store port. */
export class NotificationStore {
  private constructor(
    readonly notifications: Collection<Notification>,
    readonly prefs: Collection<PrefsDoc>,
    readonly subscriptions: Collection<PushSubscription>,
    readonly windows: Collection<WindowDoc>,
    readonly deliveries: Collection<Delivery>,
    readonly digests: Collection<DigestEntry>,
  ) {}

  static async open(store: DocumentStore): Promise<NotificationStore> {
    const byUser = { name: 'user', fields: [['userId', 1]] as const };
    return new NotificationStore(
      await store.collection<Notification>('notifications', [
        {
          name: 'user_created',
          fields: [
            ['userId', 1],
            ['createdAt', -1],
          ],
        },
      ]),
      await store.collection<PrefsDoc>('notify_prefs'),
      await store.collection<PushSubscription>('push_subscriptions', [byUser]),
      await store.collection<WindowDoc>('notify_windows', [{ name: 'closes', fields: [['closesAt', 1]] }]),
      await store.collection<Delivery>('notify_deliveries'),
      await store.collection<DigestEntry>('notify_digests', [byUser]),
    );
  }

  async prefsOf(userId: string): Promise<NotifyPrefs> {
    const d = await this.prefs.findById(userId);
    if (!d) return defaultPrefs;
    const { _id: _ignored, updatedAt: _at, ...p } = d;
    return { ...defaultPrefs, ...p };
  }

  async prefsOfMany(userIds: readonly string[]): Promise<Map<string, NotifyPrefs>> {
    const found = userIds.length
      ? await this.prefs.find({ _id: q.in([...userIds]) }, { limit: userIds.length })
      : [];
    const byId = new Map(found.map((d) => [d._id, d]));
    return new Map(
      userIds.map((u) => {
        const d = byId.get(u);
        if (!d) return [u, defaultPrefs];
        const { _id: _ignored, updatedAt: _at, ...p } = d;
        return [u, { ...defaultPrefs, ...p }];
      }),
    );
  }

  async setPrefs(userId: string, prefs: NotifyPrefs): Promise<NotifyPrefs> {
    await this.prefs.updateOne(
      { _id: userId },
      { $set: { ...prefs, updatedAt: new Date().toISOString() } },
      { upsert: true },
    );
    return prefs;
  }

  subscriptionsOf(userIds: readonly string[]): Promise<PushSubscription[]> {
    if (userIds.length === 0) return Promise.resolve([]);
    return this.subscriptions.find({ userId: q.in([...userIds]) }, { limit: 1000 * userIds.length });
  }
}
