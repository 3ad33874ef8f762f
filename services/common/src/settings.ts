import { field, optionalField, parse } from './config.ts';

function keyPrefix() {
  return parse.string().regex(/^[A-Za-z0-9:._-]{1,64}$/, 'must be 1-64 of [A-Za-z0-9:._-]');
}

/**
 * Settings every Parley process shares. A dependency whose setting is absent runs on its embedded
 * adapter; setting it selects the production adapter. No code change is ever needed to switch.
 */
export const commonSettings = {
  http: {
    host: field(parse.string(), {
      env: 'HOST',
      default: '0.0.0.0',
      doc: 'Address the HTTP server binds to.',
    }),
    port: field(parse.int(0, 65535), {
      env: 'PORT',
      default: '8080',
      doc: 'HTTP port (REST, WebSocket, health, metrics); 0 picks a free port.',
    }),
    bodyLimitBytes: field(parse.int(1024, 50 * 1024 * 1024), {
      env: 'HTTP_BODY_LIMIT_BYTES',
      default: '65536',
      doc: 'Largest accepted request body; larger ones get 413 PAYLOAD_TOO_LARGE.',
    }),
    headersTimeoutMs: field(parse.int(1000, 120_000), {
      env: 'HTTP_HEADERS_TIMEOUT_MS',
      default: '10000',
      doc: 'How long a client may take to send its request headers, WebSocket upgrades included; slower ones get 408 REQUEST_TIMEOUT and are disconnected. At most HTTP_REQUEST_TIMEOUT_MS.',
    }),
    requestTimeoutMs: field(parse.int(1000, 600_000), {
      env: 'HTTP_REQUEST_TIMEOUT_MS',
      default: '30000',
      doc: 'How long a client may take to send a whole request (headers and body); slower ones get 408 REQUEST_TIMEOUT. Open WebSockets are not affected.',
    }),
  },
  management: {
    host: field(parse.string(), {
      env: 'MANAGEMENT_HOST',
      default: '0.0.0.0',
      doc: 'Address of the management server: /healthz, /readyz, /metrics and /version, for the kubelet and Prometheus. Never route the ingress to it.',
    }),
    port: field(parse.int(0, 65535), {
      env: 'MANAGEMENT_PORT',
      default: '9090',
      doc: 'Port of the management server (must differ from PORT); 0 picks a free port.',
    }),
  },
  cors: {
    origins: optionalField(parse.list(), {
      env: 'CORS_ORIGINS',
      doc: 'Comma-separated origins allowed to call the API from a browser (exact match). Absent: no cross-origin access.',
    }),
  },
  rateLimit: {
    perMinute: field(parse.int(1, 1_000_000), {
      env: 'RATE_LIMIT_PER_MINUTE',
      default: '100',
      doc: 'General limit per access token (or per client IP when anonymous), per minute; over it: 429 with Retry-After.',
    }),
  },
  trustProxy: field(parse.bool(), {
    env: 'TRUST_PROXY',
    default: 'false',
    doc: 'Take the client IP from X-Forwarded-For (set true behind the ingress).',
  }),
  log: {
    level: field(parse.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), {
      env: 'LOG_LEVEL',
      default: 'info',
      doc: 'Minimum level of JSON log lines written to stdout.',
    }),
  },
  dataDir: field(parse.string(), {
    env: 'DATA_DIR',
    default: './data',
    doc: 'Where embedded adapters keep their SQLite file (used only when MONGO_URL or KAFKA_BROKERS is absent).',
  }),
  mongo: {
    url: optionalField(parse.mongoUrl(), {
      env: 'MONGO_URL',
      secret: true,
      doc: 'MongoDB connection string (MongoDB or FerretDB). Absent: embedded SQLite document store.',
    }),
  },
  kafka: {
    brokers: optionalField(parse.list(), {
      env: 'KAFKA_BROKERS',
      doc: 'Comma-separated Kafka bootstrap brokers (host:port). Absent: embedded in-process event log.',
    }),
    clientId: field(parse.string(), {
      env: 'KAFKA_CLIENT_ID',
      default: 'parley',
      doc: 'Kafka client id prefix.',
    }),
    sessionTimeoutMs: field(parse.int(6000, 300_000), {
      env: 'KAFKA_SESSION_TIMEOUT_MS',
      default: '10000',
      doc: 'Consumer session timeout: how soon a crashed consumer’s partitions move to the others.',
    }),
    lingerMs: field(parse.int(0, 100), {
      env: 'KAFKA_LINGER_MS',
      default: '0',
      doc: 'How long a produce waits for others to share its request when none of its topic is in flight (Kafka’s linger.ms). 0: it goes at the end of the event loop’s turn. Raising it trades acknowledgement latency for fewer requests: 3 ms at 500 msg/s took a gateway from 0.5 to 0.37 produce requests a message and the broker’s CPU down by about 20%.',
    }),
  },
  eventLog: {
    retentionHours: field(parse.int(1, 87_600), {
      env: 'EVENTLOG_RETENTION_HOURS',
      default: '168',
      doc: 'Embedded mode: how long the in-process event log keeps records before removing them (as Kafka’s retention.ms; the chart sets that with topics.retentionMs). Messages are kept in the store regardless.',
    }),
  },
  redis: {
    nodes: optionalField(parse.hostPorts(), {
      env: 'REDIS_NODES',
      doc: 'Comma-separated host:port seeds of the Redis Cluster. Absent: embedded in-process cache.',
    }),
    password: optionalField(parse.string(), {
      env: 'REDIS_PASSWORD',
      secret: true,
      doc: 'Redis AUTH password.',
    }),
    keyPrefix: field(keyPrefix(), {
      env: 'REDIS_KEY_PREFIX',
      default: 'parley:',
      doc: 'Prefix of every Redis key and channel.',
    }),
  },
  twilio: {
    accountSid: optionalField(parse.string(), {
      env: 'TWILIO_ACCOUNT_SID',
      doc: 'Twilio account SID. Absent: SMS are written to the log (console adapter).',
    }),
    authToken: optionalField(parse.string(), {
      env: 'TWILIO_AUTH_TOKEN',
      secret: true,
      doc: 'Twilio auth token.',
    }),
    from: optionalField(parse.string(), { env: 'TWILIO_FROM', doc: 'Sender number (E.164) for SMS.' }),
    messagingServiceSid: optionalField(parse.string(), {
      env: 'TWILIO_MESSAGING_SERVICE_SID',
      doc: 'Twilio messaging service, used instead of TWILIO_FROM when set.',
    }),
    baseUrl: optionalField(parse.url(['http', 'https']), {
      env: 'TWILIO_BASE_URL',
      doc: 'Override of https://api.twilio.com (tests, proxies).',
    }),
  },
  shutdown: {
    timeoutMs: field(parse.int(100, 600_000), {
      env: 'SHUTDOWN_TIMEOUT_MS',
      default: '20000',
      doc: 'On SIGTERM: stop accepting, drain and close adapters within this deadline, then exit.',
    }),
  },
  tracing: {
    endpoint: optionalField(parse.url(['http', 'https']), {
      env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      doc: 'OTLP/HTTP traces endpoint (e.g. http://otel-collector:4318/v1/traces). Absent: tracing off.',
    }),
    sampleRatio: field(parse.number(0, 1), {
      env: 'OTEL_TRACES_SAMPLER_ARG',
      default: '1',
      doc: 'Fraction of new traces sampled (parent-based).',
    }),
  },
};

/**
 * SMTP, for the services that send mail (the message notifier and the auth service's email
 * verification): one set of names, so one Secret or values block serves both.
 */
export const smtpSettings = {
  smtp: {
    url: optionalField(parse.url(['smtp', 'smtps']), {
      env: 'SMTP_URL',
      secret: true,
      doc: 'SMTP server for notification mail and email verification codes, `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465`. Absent: no notification mail; verification codes are written to the log in embedded mode (no MONGO_URL) and refused with EMAIL_DISABLED otherwise.',
    }),
    from: field(parse.string(), {
      env: 'SMTP_FROM',
      default: 'Parley <notifications@parley.local>',
      doc: 'From address of notification and verification mail.',
    }),
  },
};
