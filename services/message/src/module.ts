import { problems, type Dependencies, type ServiceModule } from '@parley/common';
import { createChat, type Chat } from './api/chat.ts';
import { SEND_CHECKS_CHANNEL } from './api/sendchecks.ts';
import { RelayMetrics, startRelay } from './fanout/relay.ts';
import { originAllowed } from './gateway/origin.ts';
import { Gateway, refuse, WS_PATH } from './gateway/gateway.ts';
import { GatewayMetrics } from './gateway/metrics.ts';
import { presenceRoutes } from './api/presence.routes.ts';
import { registerWebDemo } from './api/webdemo.ts';
import type { MessageConfig } from './config.ts';
import { messageErrors } from './domain/errors.ts';
import { notificationApi } from './notifications.ts';
import { messageRoutes } from './api/routes.ts';
import { MessageStore } from './domain/store.ts';
import { useAuthServiceJwks } from './tokens/jwks.ts';
import { AttachmentStore } from './media/attachments.ts';
import { mediaErrors } from './media/errors.ts';
import { sweepExpired } from './worker/expiry.ts';
import { Persister, WorkerMetrics } from './worker/worker.ts';
import { Recipients } from './worker/recipients.ts';
import { DirectCommands, subscribePersister } from './worker/direct.ts';

export type { MessageConfig };

async function ensureTopics(ctx: { cfg: MessageConfig; deps: () => Dependencies }) {
  const c = ctx.cfg.chat;
  const spec = { partitions: c.partitions, replicationFactor: c.replicationFactor };
  await ctx.deps().events.ensureTopics([
    { name: c.topicMessages, ...spec },
    { name: c.topicEvents, ...spec },
    { name: c.topicDlq, ...spec, partitions: c.dlqPartitions },
  ]);
}

/**
 * The api role: REST for conversations and messages, the WebSocket gateway at /v1/ws, and the
 * fan-out relay (chat.events → pub/sub) shared by every api pod through one consumer group.
 */
export function messageApiModule<C extends MessageConfig>(
  opts: {
    /** Embedded mode: the worker in this process, to which sends go without the commands log. */
    direct?: DirectCommands;
  } = {},
): ServiceModule<C> {
  let chat: Chat | undefined;
  let gateway: Gateway | undefined;
  let gatewayMetrics: GatewayMetrics;
  let relayMetrics: RelayMetrics;
  let notifications: ReturnType<typeof notificationApi>;
  return {
    name: 'message-api',
    routes(app, ctx) {
      const { cfg } = ctx;
      ctx.api.addCatalogue(messageErrors);
      // Sends name attachments, so their codes are the api's too.
      ctx.api.addCatalogue(mediaErrors);
      // In embedded mode the auth module already verifies locally; alone, verify through the JWKS.
      useAuthServiceJwks(ctx);
      const started = () => {
        if (!chat || !gateway) throw problems.UNAVAILABLE('message service is starting');
        return { chat, gateway };
      };
      messageRoutes(ctx.api, () => started().chat);
      presenceRoutes(ctx.api, started);
      notifications = notificationApi(ctx.api, cfg, ctx.logger);
      gatewayMetrics = new GatewayMetrics(ctx.metrics.registry);
      relayMetrics = new RelayMetrics(ctx.metrics.registry);
      app.server.on('upgrade', (req, socket, head) => {
        if ((req.url ?? '').split('?')[0] !== WS_PATH) return refuse(socket, 404, 'Not Found');
        if (!originAllowed(req.headers.origin, req.headers.host, cfg.cors.origins))
          return refuse(socket, 403, 'Forbidden', 'origin not allowed (CORS_ORIGINS)');
        if (!gateway) return refuse(socket, 503, 'Service Unavailable', 'starting');
        gateway.handleUpgrade(req, socket, head);
      });
      // Sockets are drained before the server closes.
      app.beforeClose(async () => gateway?.drain());
      registerWebDemo(app, { enabled: cfg.web.demo });
    },
    async start(ctx) {
      await ensureTopics(ctx);
      const store = await MessageStore.open(ctx.deps().store);
      await notifications.open(ctx.deps().store);
      const attachments = await AttachmentStore.open(ctx.deps().store);
      const c = ctx.cfg.chat;
      chat = createChat(
        store,
        ctx.deps().events,
        {
          topicMessages: c.topicMessages,
          topicEvents: c.topicEvents,
          memberCap: c.memberCap,
          editWindowSec: c.editWindowSec,
          changeRetention: ctx.cfg.ws.resumeMaxEvents,
          persistWaitMs: c.persistWaitMs,
          sendRatePerMinute: c.sendRatePerMinute,
          sendBurst: c.sendBurst,
          sendCheckTtlMs: c.sendCheckTtlSec * 1000,
          direct: opts.direct,
        },
        ctx.logger,
        (userId) =>
          ctx.deps().cachePubSub.takeToken(`send:user:${userId}`, 60_000 / c.sendRatePerMinute, c.sendBurst),
        (message) => ctx.deps().cachePubSub.publish(SEND_CHECKS_CHANNEL, message),
        attachments,
      );
      const unsubscribePersisted = await ctx
        .deps()
        .cachePubSub.subscribe(chat.sender.persistedChannel, (id) => chat!.sender.notifyPersisted(id));
      const unsubscribeChecks = await ctx
        .deps()
        .cachePubSub.subscribe(SEND_CHECKS_CHANNEL, (m) => chat!.sendChecks.onInvalidation(m));
      const unsubscribe = async () => {
        await Promise.all([unsubscribePersisted(), unsubscribeChecks()]);
      };
      // A start that fails part-way releases what it took: runService retries it (#21).
      let relay: Awaited<ReturnType<typeof startRelay>> | undefined;
      const gw = new Gateway({
        opts: ctx.cfg.ws,
        cache: ctx.deps().cachePubSub,
        chat,
        authenticate: (token) => ctx.authenticateToken(token),
        logger: ctx.logger.child({ component: 'gateway' }),
        metrics: gatewayMetrics,
      });
      try {
        relay = await startRelay({
          events: ctx.deps().events,
          cache: ctx.deps().cachePubSub,
          topic: c.topicEvents,
          groupId: ctx.cfg.ws.fanoutGroup,
          logger: ctx.logger.child({ component: 'relay' }),
          metrics: relayMetrics,
        });
        await gw.start();
      } catch (err) {
        await relay?.stop().catch(() => undefined);
        await unsubscribe().catch(() => undefined);
        throw err;
      }
      const started = relay;
      // Sockets are accepted only once deliveries can reach them.
      gateway = gw;
      const sweeper = setInterval(() => {
        sweepExpired(store).catch((err: unknown) => ctx.logger.error({ err }, 'expiry sweep failed'));
      }, c.sweepIntervalSec * 1000);
      sweeper.unref();
      return async () => {
        clearInterval(sweeper);
        await started.stop();
        await unsubscribe();
      };
    },
  };
}

/**
 * The worker role: the persister (consumer group `message-worker`). Given `direct` over the
 * embedded event log (embedded mode), it also takes the api's sends without the commands log
 * once it has drained what the log holds (worker/direct.ts).
 */
export function messageWorkerModule<C extends MessageConfig>(
  opts: { direct?: DirectCommands } = {},
): ServiceModule<C> {
  let metrics: WorkerMetrics;
  return {
    name: 'message-worker',
    routes(_app, ctx) {
      metrics = new WorkerMetrics(ctx.metrics.registry);
    },
    async start(ctx) {
      await ensureTopics(ctx);
      const c = ctx.cfg.chat;
      const store = await MessageStore.open(ctx.deps().store);
      const recipients = new Recipients(
        store,
        { ttlMs: c.sendCheckTtlSec * 1000, maxEntries: 10_000 },
        ctx.logger,
      );
      const unsubscribe = await ctx
        .deps()
        .cachePubSub.subscribe(SEND_CHECKS_CHANNEL, (m) => recipients.onInvalidation(m));
      const persister = new Persister(
        store,
        ctx.deps().events,
        ctx.deps().cachePubSub,
        {
          topicEvents: c.topicEvents,
          topicDlq: c.topicDlq,
          eventsCommitWithStore: ctx.deps().events.kind === 'embedded' && !ctx.cfg.mongo.url,
        },
        ctx.logger,
        metrics,
        recipients,
      );
      const sub = await subscribePersister(ctx.deps().events, persister, {
        groupId: c.workerGroup,
        topic: c.topicMessages,
        direct: opts.direct,
        partitionsAtOnce: c.workerPartitionsAtOnce,
      });
      // Drain: finish the batch in flight and commit before adapters close.
      return async () => {
        await sub.stop();
        await unsubscribe();
      };
    },
  };
}

/**
 * The api and worker roles for one process (embedded mode, tests): they share a DirectCommands,
 * so over the embedded event log sends reach the worker without the commands log
 * (worker/direct.ts); on Kafka this is the two modules as they are.
 */
export function messageApiAndWorkerModules<C extends MessageConfig>(): ServiceModule<C>[] {
  const direct = new DirectCommands();
  return [messageApiModule<C>({ direct }), messageWorkerModule<C>({ direct })];
}
