import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Api, DocumentStore, Logger, ServiceModule } from '@parley/common';
import { problems } from '@parley/common';
import { Presence } from './domain/presence.ts';
import { MessageStore } from './domain/store.ts';
import type { MessageConfig } from './config.ts';
import { SmtpMailChannel } from './notify/channels/email.ts';
import { FcmChannel, type ServiceAccount } from './notify/channels/fcm.ts';
import { WebPushChannel } from './notify/channels/webpush.ts';
import { Deliverer, type Channels } from './notify/deliver.ts';
import { PushEndpointPolicy } from './notify/pushendpoint.ts';
import { loadApiNotifyKeys, loadNotifyKeys, type NotifyKeys } from './notify/keys.ts';
import { NotifyMetrics } from './notify/metrics.ts';
import { Notifier } from './notify/notifier.ts';
import { notificationRoutes } from './notify/routes.ts';
import { NotificationStore } from './notify/store.ts';
import { Sweeper } from './notify/sweep.ts';
import { unsubscribeToken } from './notify/unsubscribe.ts';

function keyOptions(cfg: MessageConfig, logger: Logger): Parameters<typeof loadNotifyKeys>[0] {
  return {
    unsubscribeSecret: cfg.notify.unsubscribeSecret,
    vapidPublicKey: cfg.webPush.vapidPublicKey,
    vapidPrivateKey: cfg.webPush.vapidPrivateKey,
    generatedPath: join(cfg.dataDir, 'notify-keys.json'),
    onGenerated: (path) =>
      logger.warn(
        { path },
        'generated VAPID keys and an unsubscribe secret; set VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and NOTIFY_UNSUBSCRIBE_SECRET (from Secrets) when running more than one replica',
      ),
  };
}

/** The notification routes on the api role: registered at once, served once the store is open. */
export function notificationApi(api: Api, cfg: MessageConfig, logger: Logger) {
  const keys = loadApiNotifyKeys(keyOptions(cfg, logger));
  const pushPolicy = new PushEndpointPolicy(cfg.webPush.allowedHosts);
  let store: NotificationStore | undefined;
  notificationRoutes(api, () => {
    if (!store) throw problems.UNAVAILABLE('notifications are starting');
    return {
      store,
      vapidPublicKey: keys.vapidPublicKey,
      unsubscribeSecret: keys.unsubscribeSecret,
      pushPolicy,
    };
  });
  return {
    async open(docs: DocumentStore) {
      store = await NotificationStore.open(docs);
    },
  };
}

/** The providers configured: SMTP when SMTP_URL is set, Web Push always, FCM with credentials. */
export function channelsOf(cfg: MessageConfig, keys: NotifyKeys, logger: Logger): Channels {
  const channels: Channels = {
    web: new WebPushChannel(
      { ...keys.vapid, subject: cfg.webPush.subject },
      { policy: new PushEndpointPolicy(cfg.webPush.allowedHosts) },
    ),
  };
  if (cfg.smtp.url) channels.mail = new SmtpMailChannel({ url: cfg.smtp.url, from: cfg.smtp.from });
  else logger.warn('SMTP_URL is not set: no notification mail is sent');
  if (cfg.fcm.credentialsFile) {
    const sa = JSON.parse(readFileSync(cfg.fcm.credentialsFile, 'utf8')) as ServiceAccount;
    channels.mobile = new FcmChannel(sa, cfg.fcm.endpoint);
  }
  return channels;
}

/**
 * The notifier role: a consumer group over chat.events that notifies offline members (notifier.ts)
 * and a sweep that closes collapse windows and sends digests (sweep.ts).
 */
export function messageNotifierModule<C extends MessageConfig>(
  /** Tests pass channels pointing at local servers; by default they come from config. */
  channels?: Channels,
): ServiceModule<C> {
  let metrics: NotifyMetrics;
  return {
    name: 'message-notifier',
    routes(_app, ctx) {
      metrics = new NotifyMetrics(ctx.metrics.registry);
    },
    async start(ctx) {
      const { cfg, logger } = ctx;
      const n = cfg.notify;
      const keys = loadNotifyKeys(keyOptions(cfg, logger));
      const chosen = channels ?? channelsOf(cfg, keys, logger);
      const spec = { partitions: cfg.chat.partitions, replicationFactor: cfg.chat.replicationFactor };
      await ctx.deps().events.ensureTopics([
        { name: cfg.chat.topicEvents, ...spec },
        { name: n.topicDlq, ...spec, partitions: cfg.chat.dlqPartitions },
      ]);
      const store = await NotificationStore.open(ctx.deps().store);
      const messages = await MessageStore.open(ctx.deps().store);
      const log = logger.child({ component: 'notifier' });
      const deliverer = new Deliverer(store, chosen, n, metrics, log);
      const notifier = new Notifier({
        store,
        messages,
        presence: new Presence(ctx.deps().cachePubSub, cfg.ws.presenceTtlMs),
        events: ctx.deps().events,
        deliverer,
        opts: { topicDlq: n.topicDlq, maxAttempts: n.maxAttempts, collapseMs: n.collapseSec * 1000 },
        logger: log,
        metrics,
      });
      const sweeper = new Sweeper({
        store,
        messages,
        deliverer,
        digestMs: n.digestMin * 60_000,
        links: (userId) => ({
          app: n.publicUrl,
          unsubscribe: `${n.publicUrl.replace(/\/$/, '')}/v1/notifications/unsubscribe?token=${unsubscribeToken(keys.unsubscribeSecret, userId, Date.now() / 1000 + n.unsubscribeTtlDays * 86_400)}`,
        }),
        logger: log,
        metrics,
      });
      const sub = await ctx.deps().events.subscribe({
        groupId: n.group,
        topics: [cfg.chat.topicEvents],
        // Notifications are about now: a new group does not replay history.
        fromBeginning: false,
        handler: (batch) => notifier.handle(batch),
      });
      let sweeping: Promise<void> | undefined;
      const timer = setInterval(() => {
        sweeping ??= sweeper
          .sweep()
          .catch((err: unknown) => log.error({ err }, 'notification sweep failed'))
          .finally(() => (sweeping = undefined));
      }, n.sweepMs);
      timer.unref();
      return async () => {
        clearInterval(timer);
        await sub.stop();
        await sweeping;
        await Promise.all([chosen.mail?.close(), chosen.web?.close(), chosen.mobile?.close()]);
      };
    },
  };
}
