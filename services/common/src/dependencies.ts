import { join } from 'node:path';
import type { Cache } from './cache/port.ts';
import { MemoryCache } from './cache/memory.ts';
import { RedisCache } from './cache/redis.ts';
import { MongoDocumentStore } from './docstore/mongo.ts';
import { KafkaEventLog } from './eventlog/kafka.ts';
import { TwilioSms } from './sms/twilio.ts';
import type { Infer } from './config.ts';
import type { DocumentStore } from './docstore/port.ts';
import { groupCommitOf } from './docstore/groupcommit.ts';
import { SqliteDocumentStore } from './docstore/sqlite.ts';
import type { EventLog } from './eventlog/port.ts';
import { EmbeddedEventLog } from './eventlog/embedded.ts';
import type { EventLogMetrics } from './eventlog/metrics.ts';
import type { Health } from './health.ts';
import type { Logger } from './logger.ts';
import { retryForever } from './retry.ts';
import type { commonSettings } from './settings.ts';
import { ConsoleSms } from './sms/console.ts';
import type { Sms } from './sms/port.ts';

export interface Dependencies {
  store: DocumentStore;
  /** The event log (Kafka, or the embedded one): commands and events, not logging. */
  events: EventLog;
  /** Shared state (rate limits, sessions, presence, JWKS) and pub/sub (fan-out, revocations, notices). */
  cachePubSub: Cache;
  sms: Sms;
}

export type CommonConfig = Infer<typeof commonSettings>;

/** Which adapter each port gets, from configuration alone. Pure, so it is table-tested. */
export function selectAdapters(cfg: CommonConfig): Record<keyof Dependencies, string> {
  return {
    store: cfg.mongo.url ? 'mongo' : 'sqlite',
    events: cfg.kafka.brokers ? 'kafka' : 'embedded',
    cachePubSub: cfg.redis.nodes ? 'redis' : 'memory',
    sms: cfg.twilio.accountSid ? 'twilio' : 'console',
  };
}

export interface ConnectOptions {
  cfg: CommonConfig;
  /** Names this process in Kafka client ids and logs (auth, message-api, …). */
  component: string;
  logger: Logger;
  health: Health;
  signal?: AbortSignal;
  /** How often a connected dependency is pinged for /readyz. */
  pingIntervalMs?: number;
  /** The event log adapter's series (parley_eventlog_*). */
  eventLogMetrics?: EventLogMetrics;
}

export interface Connected {
  deps: Dependencies;
  close(): Promise<void>;
}

/**
 * Opens every port's adapter. Production adapters that cannot connect are retried with backoff
 * until they do (or `signal` aborts); /readyz shows each one's state meanwhile, and the log gets
 * one line per state change. Adapters are imported statically: a dynamic import() of our own modules
 * can load a second copy of a module under test runners that mix require and import, breaking
 * instanceof checks on errors such as DuplicateKeyError.
 */
export async function connectDependencies(opts: ConnectOptions): Promise<Connected> {
  const { cfg, logger, health } = opts;
  const chosen = selectAdapters(cfg);
  logger.info({ adapters: chosen }, 'selected adapters');
  let sqlite: SqliteDocumentStore | undefined;
  const embeddedDb = () => {
    if (sqlite) return sqlite;
    sqlite = new SqliteDocumentStore({ path: join(cfg.dataDir, 'parley.db') });
    groupCommitOf(sqlite.handle).onFailure((err) => {
      logger.error({ err }, 'embedded SQLite commit failed: that turn of writes was rolled back');
      health.down('store', err);
    });
    return sqlite;
  };

  const connect = async <T>(name: string, open: () => Promise<T>): Promise<T> => {
    health.register(name);
    const value = await retryForever(open, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onFailure: (err) => health.down(name, err),
    });
    health.up(name);
    return value;
  };

  const [store, log, cache] = await Promise.all([
    connect<DocumentStore>('store', async () => {
      if (!cfg.mongo.url) return embeddedDb();
      return MongoDocumentStore.connect({ url: cfg.mongo.url });
    }),
    connect<EventLog>('eventlog', async () => {
      const onHandlerError = (err: unknown, tp: { topic: string; partition: number }, groupId: string) =>
        logger.warn({ err, ...tp, groupId }, 'consumer handler failed; batch will be redelivered');
      const metrics = opts.eventLogMetrics ? { metrics: opts.eventLogMetrics } : {};
      if (!cfg.kafka.brokers)
        return new EmbeddedEventLog({
          db: embeddedDb().handle,
          onHandlerError,
          retentionMs: cfg.eventLog.retentionHours * 3_600_000,
          ...metrics,
        });
      const kafkaLogger = logger.child({ dependency: 'kafka' });
      return KafkaEventLog.connect({
        brokers: cfg.kafka.brokers,
        clientId: `${cfg.kafka.clientId}-${opts.component}`,
        sessionTimeoutMs: cfg.kafka.sessionTimeoutMs,
        lingerMs: cfg.kafka.lingerMs,
        onHandlerError,
        ...metrics,
        log: (level, message, extra) => kafkaLogger[level](extra, message),
      });
    }),
    connect<Cache>('cache', async () => {
      if (!cfg.redis.nodes) return new MemoryCache();
      let lastError = '';
      return RedisCache.connect({
        nodes: cfg.redis.nodes,
        keyPrefix: cfg.redis.keyPrefix,
        ...(cfg.redis.password ? { password: cfg.redis.password } : {}),
        onError: (err) => {
          const msg = err instanceof Error ? err.message : String(err);
          if (msg !== lastError) logger.warn({ dependency: 'cache', err: msg }, 'redis error');
          lastError = msg;
        },
      });
    }),
  ]);

  let sms: Sms;
  if (cfg.twilio.accountSid) {
    if (!cfg.twilio.authToken)
      throw new Error('in twilio.authToken (TWILIO_AUTH_TOKEN): is required with TWILIO_ACCOUNT_SID');
    sms = new TwilioSms({
      accountSid: cfg.twilio.accountSid,
      authToken: cfg.twilio.authToken,
      ...(cfg.twilio.from ? { from: cfg.twilio.from } : {}),
      ...(cfg.twilio.messagingServiceSid ? { messagingServiceSid: cfg.twilio.messagingServiceSid } : {}),
      ...(cfg.twilio.baseUrl ? { baseUrl: cfg.twilio.baseUrl } : {}),
    });
  } else {
    sms = new ConsoleSms(logger.child({ adapter: 'sms-console' }));
  }

  // Level-based health: ping each dependency periodically so /readyz follows outages and recovery.
  const pings: [string, () => Promise<void>][] = [
    ['store', () => store.ping()],
    ['eventlog', () => log.ping()],
    ['cache', () => cache.ping()],
  ];
  const timer = setInterval(() => {
    for (const [name, ping] of pings)
      ping().then(
        () => health.up(name),
        (err: unknown) => health.down(name, err),
      );
  }, opts.pingIntervalMs ?? 5000);
  timer.unref();

  return {
    deps: { store, events: log, cachePubSub: cache, sms },
    close: async () => {
      clearInterval(timer);
      // The event log first: consumers commit what they finished, before the store goes away.
      await log.close().catch((err: unknown) => logger.error({ err }, 'closing event log failed'));
      await cache.close().catch((err: unknown) => logger.error({ err }, 'closing cache failed'));
      await store.close().catch((err: unknown) => logger.error({ err }, 'closing store failed'));
    },
  };
}
