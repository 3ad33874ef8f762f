import { commonSettings, field, optionalField, parse, smtpSettings, type Infer } from '@parley/common';
import { mediaSettings, s3Settings } from './media/config.ts';
import { DEFAULT_PUSH_HOSTS } from './notify/pushendpoint.ts';

/** The message service's settings. One image runs either role. */
export const messageSettings = {
  ...commonSettings,
  role: field(parse.oneOf(['api', 'worker', 'notifier', 'media']), {
    env: 'ROLE',
    default: 'api',
    doc: 'Message service role: `api` (REST + WebSocket gateway), `worker` (Kafka persister), `notifier` (email and push for offline members) or `media` (attachments).',
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
      doc: 'Kafka topic for records the worker cannot read: unparseable, an unknown envelope version, or breaking the send rules (see `npm run dlq`).',
    }),
    partitions: field(parse.int(1, 10_000), {
      env: 'CHAT_TOPIC_PARTITIONS',
      default: '16',
      doc: 'Partitions when this service creates the chat topics (production: 128, via the operator).',
    }),
    dlqPartitions: field(parse.int(1, 10_000), {
      env: 'DLQ_TOPIC_PARTITIONS',
      default: '3',
      doc: 'Partitions when this service creates a dead-letter topic (TOPIC_CHAT_DLQ, TOPIC_NOTIFY_DLQ); the chart passes `topics.dlqPartitions`, as its Topic resources say, so the operator never meets a larger one it cannot shrink.',
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
    workerPartitionsAtOnce: field(parse.int(1, 1024), {
      env: 'WORKER_PARTITIONS_AT_ONCE',
      default: '8',
      doc: "Partitions of the commands topic one worker stores at once (Kafka). A batch waits on a few store and Kafka round trips; one partition at a time held a worker to about 50 batches a second whatever its CPU. Each partition's messages stay in order.",
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
    sendRatePerMinute: field(parse.int(1, 1_000_000), {
      env: 'SEND_RATE_PER_MINUTE',
      default: '30',
      doc: 'Messages one user may send per minute, sustained, over REST and every socket on every pod together (429 / RATE_LIMITED beyond).',
    }),
    sendBurst: field(parse.int(1, 1_000_000), {
      env: 'SEND_BURST',
      default: '10',
      doc: 'Messages one user may send at once above the sustained rate (a token bucket of this size, refilled at SEND_RATE_PER_MINUTE).',
    }),
    persistWaitMs: field(parse.int(100, 60_000), {
      env: 'PERSIST_WAIT_MS',
      default: '5000',
      doc: 'With `?wait=persisted`, how long a send waits for the worker before answering 202.',
    }),
    sendCheckTtlSec: field(parse.int(1, 3600), {
      env: 'SEND_CHECK_TTL_SECONDS',
      default: '30',
      doc: "How long an API process trusts a sender's cached membership and block check without reading the store. Removals, blocks and conversation changes invalidate it on every API process through pub/sub at once; this bounds the window only when such a message is lost.",
    }),
    sweepIntervalSec: field(parse.int(1, 86_400), {
      env: 'TTL_SWEEP_INTERVAL_SECONDS',
      default: '60',
      doc: 'How often expired (disappearing) messages are purged.',
    }),
  },
  ws: {
    maxFrameBytes: field(parse.int(1024, 16 * 1024 * 1024), {
      env: 'WS_MAX_FRAME_BYTES',
      default: '131072',
      doc: 'Largest WebSocket frame a client may send; larger ones close the socket with 1009.',
    }),
    maxBufferedBytes: field(parse.int(16 * 1024, 256 * 1024 * 1024), {
      env: 'WS_MAX_BUFFERED_BYTES',
      default: '1048576',
      doc: 'Send buffer a socket may hold before it is closed as a slow consumer (4010).',
    }),
    heartbeatMs: field(parse.int(1000, 300_000), {
      env: 'WS_HEARTBEAT_MS',
      default: '25000',
      doc: 'Interval of WebSocket pings; a socket that misses one is closed.',
    }),
    authTimeoutMs: field(parse.int(100, 60_000), {
      env: 'WS_AUTH_TIMEOUT_MS',
      default: '5000',
      doc: 'How long a socket may stay open without a valid `auth` frame (4001 after).',
    }),
    maxPendingAuth: field(parse.int(1, 1_000_000), {
      env: 'WS_MAX_PENDING_AUTH',
      default: '2000',
      doc: 'Sockets allowed to wait for authentication at once per process; more are refused with 503.',
    }),
    framesPerSecond: field(parse.int(1, 10_000), {
      env: 'WS_FRAMES_PER_SECOND',
      default: '20',
      doc: 'Sustained frames per second per connection (token bucket).',
    }),
    frameBurst: field(parse.int(1, 100_000), {
      env: 'WS_FRAME_BURST',
      default: '60',
      doc: 'Burst of frames per connection above the sustained rate.',
    }),
    maxConnectionsPerUser: field(parse.int(1, 10_000), {
      env: 'WS_MAX_CONNECTIONS_PER_USER',
      default: '20',
      doc: 'Open sockets one user may hold across every gateway (4009 beyond).',
    }),
    resumeMaxMessages: field(parse.int(1, 1_000_000), {
      env: 'WS_RESUME_MAX_MESSAGES',
      default: '5000',
      doc: 'Most messages one resume replays per conversation; beyond, `resumed.truncated` tells the client to page over REST.',
    }),
    resumeMaxEvents: field(parse.int(1, 1_000_000), {
      env: 'WS_RESUME_MAX_EVENTS',
      default: '1000',
      doc: 'Most changes (edits, deletions, reactions, receipts, membership) one resume replays per conversation, and how many the change log keeps per conversation; beyond, `resumed.refetch` tells the client to reload that conversation over REST.',
    }),
    resumeMaxConversations: field(parse.int(1, 100_000), {
      env: 'WS_RESUME_MAX_CONVERSATIONS',
      default: '1000',
      doc: 'Most conversations one resume frame may name.',
    }),
    typingThrottleMs: field(parse.int(0, 60_000), {
      env: 'WS_TYPING_THROTTLE_MS',
      default: '2000',
      doc: 'Least time between two relayed typing indicators of one user in one conversation.',
    }),
    presenceTtlMs: field(parse.int(5000, 3_600_000), {
      env: 'PRESENCE_TTL_MS',
      default: '90000',
      doc: 'How long a socket counts as present without a refresh (refreshed every third of it).',
    }),
    presenceMaxMembers: field(parse.int(0, 100_000), {
      env: 'PRESENCE_MAX_MEMBERS',
      default: '100',
      doc: 'Presence changes are pushed to direct chats and to groups up to this size; larger groups ask over REST.',
    }),
    drainMs: field(parse.int(0, 600_000), {
      env: 'WS_DRAIN_MS',
      default: '5000',
      doc: 'On shutdown, the window over which clients are told to reconnect (jittered).',
    }),
    fanoutGroup: field(parse.string(), {
      env: 'FANOUT_GROUP_ID',
      default: 'message-fanout',
      doc: 'Kafka consumer group of the fan-out relay (chat.events → Redis), shared by api pods.',
    }),
  },
  media: mediaSettings,
  s3: s3Settings,
  notify: {
    group: field(parse.string(), {
      env: 'NOTIFY_GROUP_ID',
      default: 'message-notifier',
      doc: 'Kafka consumer group of the notifier role (chat.events → email and push).',
    }),
    topicDlq: field(parse.string(), {
      env: 'TOPIC_NOTIFY_DLQ',
      default: 'chat.events.notify.dlq',
      doc: 'Kafka topic for chat events the notifier cannot parse or failed on NOTIFY_MAX_ATTEMPTS times.',
    }),
    maxAttempts: field(parse.int(1, 100), {
      env: 'NOTIFY_MAX_ATTEMPTS',
      default: '5',
      doc: 'Times the notifier handles one event before sending it to TOPIC_NOTIFY_DLQ.',
    }),
    sendAttempts: field(parse.int(1, 20), {
      env: 'NOTIFY_SEND_ATTEMPTS',
      default: '4',
      doc: 'Tries of one provider send (SMTP, Web Push, FCM) on a retryable failure, with exponential backoff, before the delivery is marked failed.',
    }),
    retryInitialMs: field(parse.int(1, 60_000), {
      env: 'NOTIFY_RETRY_INITIAL_MS',
      default: '500',
      doc: 'First backoff delay between provider send tries (doubled each try, capped at 30 s).',
    }),
    collapseSec: field(parse.int(1, 3600), {
      env: 'NOTIFY_COLLAPSE_SECONDS',
      default: '60',
      doc: 'Collapse window per user and conversation: the first message pushes at once; later ones within the window become one "N new messages" when it ends (and one instant mail per window).',
    }),
    digestMin: field(parse.int(1, 7 * 1440), {
      env: 'NOTIFY_DIGEST_MINUTES',
      default: '60',
      doc: 'For users who chose the email digest: the longest a burst waits before one mail lists every conversation with news.',
    }),
    sweepMs: field(parse.int(100, 600_000), {
      env: 'NOTIFY_SWEEP_MS',
      default: '5000',
      doc: 'How often the notifier closes ended collapse windows and sends due digests.',
    }),
    publicUrl: field(parse.url(['http', 'https']), {
      env: 'NOTIFY_PUBLIC_URL',
      default: 'http://localhost:8080',
      doc: 'Public base URL of the API (ingress), for links in mail (unsubscribe).',
    }),
    unsubscribeTtlDays: field(parse.int(1, 3650), {
      env: 'NOTIFY_UNSUBSCRIBE_TTL_DAYS',
      default: '90',
      doc: 'How long the unsubscribe link in a mail works (each mail carries a fresh one); an older link answers 410 UNSUBSCRIBE_LINK_EXPIRED.',
    }),
    unsubscribeSecret: optionalField(parse.string().min(32, 'must be at least 32 characters'), {
      env: 'NOTIFY_UNSUBSCRIBE_SECRET',
      secret: true,
      doc: 'HMAC key (from a Secret, at least 32 characters) that signs unsubscribe links; every api and notifier pod needs the same. Absent: one is generated once and kept in DATA_DIR (embedded mode only).',
    }),
  },
  ...smtpSettings,
  webPush: {
    vapidPublicKey: optionalField(parse.string(), {
      env: 'VAPID_PUBLIC_KEY',
      doc: 'VAPID public key (base64url P-256 point) that browsers subscribe with. Absent with VAPID_PRIVATE_KEY: a pair is generated once and kept in DATA_DIR (embedded mode; the chart generates a Secret).',
    }),
    vapidPrivateKey: optionalField(parse.string(), {
      env: 'VAPID_PRIVATE_KEY',
      secret: true,
      doc: 'VAPID private key (base64url), from a Secret. Only the notifier signs pushes: the api role needs VAPID_PUBLIC_KEY and NOTIFY_UNSUBSCRIBE_SECRET, not this.',
    }),
    allowedHosts: field(parse.list(), {
      env: 'WEB_PUSH_ALLOWED_HOSTS',
      default: DEFAULT_PUSH_HOSTS.join(','),
      doc: 'Push services a Web Push subscription endpoint may name (https only): host names, `*.domain` wildcards, or exact IP addresses. A private, loopback or link-local address (literal or resolved) is refused unless listed exactly; other endpoints answer 422 PUSH_ENDPOINT_NOT_ALLOWED.',
    }),
    subject: field(parse.string(), {
      env: 'VAPID_SUBJECT',
      default: 'mailto:admin@parley.local',
      doc: 'VAPID contact (mailto: or https:) that push services may use to reach the operator.',
    }),
  },
  fcm: {
    credentialsFile: optionalField(parse.string(), {
      env: 'FCM_CREDENTIALS_FILE',
      doc: 'Path of a Google service-account JSON key (a mounted Secret) for FCM HTTP v1. Absent: no mobile push.',
    }),
    endpoint: field(parse.url(['http', 'https']), {
      env: 'FCM_ENDPOINT',
      default: 'https://fcm.googleapis.com',
      doc: 'FCM API base URL (tests point it at a local fake).',
    }),
  },
  web: {
    demo: field(parse.bool(), {
      env: 'WEB_DEMO_ENABLED',
      default: 'true',
      doc: 'Serve the demo web client at `/`.',
    }),
  },
};

/** The settings every message role reads (the role itself picks the module). */
export type MessageConfig = Infer<Omit<typeof messageSettings, 'role'>>;
