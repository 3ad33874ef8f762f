import { commonSettings, field, optionalField, parse } from '@parley/common';

/** The message service's settings. One image runs either role. */
export const messageSettings = {
  ...commonSettings,
  role: field(parse.oneOf(['api', 'worker']), {
    env: 'ROLE',
    default: 'api',
    doc: 'Message service role: `api` (REST + WebSocket gateway) or `worker` (Kafka persister).',
  }),
  jwt: {
    jwksUrl: optionalField(parse.url(['http', 'https']), {
      env: 'AUTH_JWKS_URL',
      doc: 'The auth service’s JWKS (e.g. http://parley-auth/.well-known/jwks.json). Required unless the auth module runs in the same process.',
    }),
    issuer: field(parse.string(), {
      env: 'JWT_ISSUER',
      default: 'parley-auth',
      doc: 'Accepted `iss` of access tokens.',
    }),
    audience: field(parse.string(), {
      env: 'JWT_AUDIENCE',
      default: 'parley',
      doc: 'Accepted `aud` of access tokens.',
    }),
  },
  chat: {
    topicMessages: field(parse.string(), {
      env: 'TOPIC_CHAT_MESSAGES',
      default: 'chat.messages',
      doc: 'Kafka topic of send commands (key = conversation id).',
    }),
    topicEvents: field(parse.string(), {
      env: 'TOPIC_CHAT_EVENTS',
      default: 'chat.events',
      doc: 'Kafka topic of chat events (key = conversation id).',
    }),
    topicDlq: field(parse.string(), {
      env: 'TOPIC_CHAT_DLQ',
      default: 'chat.messages.dlq',
      doc: 'Kafka topic for commands that failed too often or cannot be parsed.',
    }),
    partitions: field(parse.int(1, 10_000), {
      env: 'CHAT_TOPIC_PARTITIONS',
      default: '16',
      doc: 'Partitions when this service creates the chat topics (production: 128, via the operator).',
    }),
    replicationFactor: field(parse.int(-1, 10), {
      env: 'CHAT_TOPIC_REPLICATION',
      default: '-1',
      doc: 'Replication factor when this service creates the chat topics (-1: broker default).',
    }),
    workerGroup: field(parse.string(), {
      env: 'WORKER_GROUP_ID',
      default: 'message-worker',
      doc: 'Kafka consumer group of the worker role (one per installation).',
    }),
    maxAttempts: field(parse.int(1, 100), {
      env: 'WORKER_MAX_ATTEMPTS',
      default: '5',
      doc: 'Times the worker tries a command before sending it to the DLQ.',
    }),
    memberCap: field(parse.int(2, 100_000), {
      env: 'GROUP_MEMBER_CAP',
      default: '1000',
      doc: 'Most members a group conversation may have.',
    }),
    editWindowSec: field(parse.int(0, 30 * 86_400), {
      env: 'EDIT_WINDOW_SECONDS',
      default: '900',
      doc: 'How long after sending a message its sender may edit it.',
    }),
    persistWaitMs: field(parse.int(100, 60_000), {
      env: 'PERSIST_WAIT_MS',
      default: '5000',
      doc: 'With `?wait=persisted`, how long a send waits for the worker before answering 202.',
    }),
    sweepIntervalSec: field(parse.int(1, 86_400), {
      env: 'TTL_SWEEP_INTERVAL_SECONDS',
      default: '60',
      doc: 'How often expired (disappearing) messages are purged.',
    }),
  },
};
