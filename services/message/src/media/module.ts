import { join } from 'node:path';
import { problems, type Infer, type ServiceModule } from '@parley/common';
import type { mediaSettings, s3Settings } from './config.ts';
import { messageErrors } from '../domain/errors.ts';
import { MessageStore } from '../domain/store.ts';
import { AttachmentStore } from './attachments.ts';
import { mediaErrors } from './errors.ts';
import { Media } from './media.ts';
import { MediaMetrics } from './metrics.ts';
import type { ObjectStore } from './objectstore.ts';
import { DiskObjectStore } from './objectstore.disk.ts';
import { S3ObjectStore } from './objectstore.s3.ts';
import { mediaRoutes } from './routes.ts';
import { useAuthServiceJwks, type JwksConfig } from '../tokens/jwks.ts';

/** What the media role reads of the message service's settings. */
export interface MediaConfig extends JwksConfig {
  dataDir: string;
  media: Infer<typeof mediaSettings>;
  s3: Infer<typeof s3Settings>;
  chat: { topicEvents: string; partitions: number; replicationFactor: number };
}

/** The object store the settings select: S3 when S3_BUCKET is set, else files under MEDIA_DIR. */
export async function openObjectStore(cfg: MediaConfig): Promise<ObjectStore> {
  const s = cfg.s3;
  if (!s.bucket) return DiskObjectStore.open(cfg.media.dir ?? join(cfg.dataDir, 'media'));
  if (!s.accessKeyId || !s.secretAccessKey)
    throw new Error(
      'in s3.accessKeyId (S3_ACCESS_KEY_ID): S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY are required with S3_BUCKET',
    );
  return S3ObjectStore.open({
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    region: s.region,
    bucket: s.bucket,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    forcePathStyle: s.forcePathStyle,
    createBucket: s.createBucket,
  });
}

/** The object store's name on /readyz. */
export const STORE_DEPENDENCY = 'objectstore';

interface DeletedEvent {
  type?: string;
  data?: { id?: unknown };
}

/**
 * The media role: attachment routes, and the clean-up that deletes files with their messages
 * (chat.events `message.deleted`, consumed in its own group) and sweeps expired, abandoned and
 * orphaned files. Stateless: any number of replicas.
 */
export function mediaModule<C extends MediaConfig>(): ServiceModule<C> {
  let media: Media | undefined;
  let metrics: MediaMetrics;
  return {
    name: 'message-media',
    routes(_app, ctx) {
      // Readiness waits for the object store too, and follows it afterwards (checkStore).
      ctx.health.register(STORE_DEPENDENCY);
      ctx.api.addCatalogue(mediaErrors);
      // The routes answer some of the message service's codes too (CONVERSATION_NOT_FOUND): alone in
      // a pod, without the api module, the process must still know them.
      ctx.api.addCatalogue(messageErrors);
      // Alone in its pod (the chart's media Deployment) it verifies tokens as the api does.
      useAuthServiceJwks(ctx);
      metrics = new MediaMetrics(ctx.metrics.registry);
      const started = () => {
        if (!media) throw problems.UNAVAILABLE('media service is starting');
        return media;
      };
      mediaRoutes(ctx.api, started, ctx.cfg.media);
    },
    async start(ctx) {
      const { cfg } = ctx;
      const objects = await openObjectStore(cfg).catch((err: unknown) => {
        ctx.health.down(STORE_DEPENDENCY, err);
        throw err;
      });
      const check = () =>
        objects.ping().then(
          () => ctx.health.up(STORE_DEPENDENCY),
          (err: unknown) => ctx.health.down(STORE_DEPENDENCY, err),
        );
      await check();
      const [messages, attachments] = await Promise.all([
        MessageStore.open(ctx.deps().store),
        AttachmentStore.open(ctx.deps().store),
      ]);
      const logger = ctx.logger.child({ component: 'media' });
      const m = new Media(objects, attachments, messages, cfg.media, metrics, logger);
      await ctx.deps().events.ensureTopics([
        {
          name: cfg.chat.topicEvents,
          partitions: cfg.chat.partitions,
          replicationFactor: cfg.chat.replicationFactor,
        },
      ]);
      const sub = await ctx.deps().events.subscribe({
        groupId: cfg.media.group,
        topics: [cfg.chat.topicEvents],
        handler: async (batch) => {
          const ids: string[] = [];
          for (const r of batch) {
            if (r.headers['event-type'] !== 'message.deleted') continue;
            try {
              const e = JSON.parse(r.value.toString('utf8')) as DeletedEvent;
              if (typeof e.data?.id === 'string') ids.push(e.data.id);
            } catch {
              logger.warn({ offset: r.offset, partition: r.partition }, 'unparseable chat event skipped');
            }
          }
          await m.deleteForMessages(ids);
        },
      });
      media = m;
      const sweeper = setInterval(() => {
        m.sweep().catch((err: unknown) => logger.error({ err }, 'media sweep failed'));
      }, cfg.media.sweepIntervalSec * 1000);
      sweeper.unref();
      // The last answer is what /readyz shows: a HeadBucket every few seconds, not one per probe.
      const checker = setInterval(() => void check(), cfg.media.storeCheckSec * 1000);
      checker.unref();
      return async () => {
        clearInterval(sweeper);
        clearInterval(checker);
        await sub.stop();
        await objects.close();
      };
    },
  };
}
