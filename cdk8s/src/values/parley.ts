/**
 * Every value a user of the chart may change, with its default and documentation. The cdk8s app
 * synthesizes with these defaults (or a values file merged over them); the chart generator turns
 * each leaf into a Helm expression, a `## @param` line in values.yaml and a values.schema.json rule.
 */
import { block, bool, defaultsOf, group, int, str, type Infer } from './spec.ts';

/** The chart's version and the Parley release its images are built from. */
export const CHART_VERSION = '0.13.0';
export const APP_VERSION = '0.1.0';

/**
 * Where monitoring/RUNBOOKS.md is published: monitoring/prometheus/rules.yaml links each alert to
 * `<this>#<anchor>`, and the chart swaps this prefix for `metrics.runbookBaseUrl`.
 */
export const RUNBOOK_BASE_URL = 'https://github.com/parley-chat/parley/blob/main/monitoring/RUNBOOKS.md';

const MiB = 1024 * 1024;
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const anyObject = { type: 'object' };
const anyList = { type: 'array' };
const resourcesSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    requests: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
    limits: { type: 'object', additionalProperties: { type: ['string', 'number'] } },
  },
};

/**
 * A ratio as the services parse it (a decimal in 0..1). `--set` passes 0.5 as a string, a values
 * file as a number; Helm prints numbers below 0.0001 in exponent form (1e-05), which they refuse.
 */
const sampleRatioSchema = {
  type: ['number', 'string'],
  minimum: 0,
  maximum: 1,
  pattern: '^(0(\\.[0-9]+)?|1(\\.0+)?)$',
  not: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 0.0001 },
};

const image = (repository: string, tag: string, what: string) =>
  group(`${what} image`, {
    repository: str(repository, `${what} image repository`),
    tag: str(tag, `${what} image tag, optionally with @sha256:<digest> (pinned; never "latest")`, {
      pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(@sha256:[a-f0-9]{64})?$',
      forbid: ['latest'],
    }),
    pullPolicy: str('IfNotPresent', `${what} image pull policy`, {
      enum: ['Always', 'IfNotPresent', 'Never'],
    }),
  });

const resources = (what: string, cpu: string, memory: string, memoryLimit: string) =>
  block(
    { requests: { cpu, memory }, limits: { memory: memoryLimit } },
    `${what} container resources`,
    resourcesSchema,
  );

const placement = (what: string) => ({
  nodeSelector: block({}, `Node labels for ${what} pod assignment`, stringMap),
  tolerations: block([], `Tolerations for ${what} pods`, anyList),
});

const persistence = (what: string, size: string) =>
  group(`${what} persistence`, {
    size: str(size, `Size of each ${what} PersistentVolumeClaim`, {
      pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti)?$',
    }),
    storageClass: str('', `StorageClass of the ${what} PVCs ("" = the cluster default)`),
  });

const appConfig = (what: string, defaults: Record<string, string>) =>
  block(
    defaults,
    `Extra environment of the ${what} (see the README's Configuration reference); string values`,
    stringMap,
  );

const existingSecret = (what: string, keys: string) =>
  str('', `Name of an existing Secret with ${what} (keys: ${keys}); empty = the chart's`);

export const parleyValuesSpec = group('', {
  fullnameOverride: str('', 'Overrides the base name of every object (default: the release name)'),
  imagePullSecrets: block([], 'Image pull secrets for every pod ([{name: …}])', anyList),
  auth: group('Auth service', {
    replicaCount: int(2, 'Auth service replicas', { min: 1 }),
    image: image('parley/auth', APP_VERSION, 'Auth service'),
    resources: resources('Auth service', '100m', '192Mi', '512Mi'),
    ...placement('auth'),
    config: appConfig('auth service', { LOG_LEVEL: 'info', ACCESS_TOKEN_TTL_SECONDS: '900' }),
    jwt: group('JWT signing keys', {
      existingSecret: existingSecret('the JWT signing keys', 'signing-keys: a JSON array of Ed25519 JWKs'),
    }),
    twilio: group('Twilio SMS (off when the Secret is absent)', {
      existingSecret: existingSecret('Twilio credentials', 'account-sid, auth-token, from'),
    }),
    github: group('GitHub OAuth (off when the Secret is absent)', {
      existingSecret: existingSecret('GitHub OAuth settings', 'client-id, client-secret, redirect-url'),
    }),
    adminBootstrap: group('One-time admin bootstrap (off when the Secret is absent)', {
      existingSecret: existingSecret(
        'the admin bootstrap secret (POST /v1/auth/admin-bootstrap; each value makes one admin)',
        'secret: at least 32 characters',
      ),
    }),
  }),
  message: group('Message service', {
    image: image('parley/message', APP_VERSION, 'Message service'),
    api: group('Message api (REST + WebSocket)', {
      replicaCount: int(2, 'Message api replicas (when autoscaling is off)', { min: 1 }),
      resources: resources('Message api', '200m', '256Mi', '1Gi'),
      ...placement('message api'),
      config: appConfig('message api', { LOG_LEVEL: 'info' }),
      autoscaling: group('HorizontalPodAutoscaler of the message api', {
        enabled: bool(true, 'Scale the message api with an HPA'),
        minReplicas: int(2, 'HPA minimum replicas', { min: 1 }),
        maxReplicas: int(10, 'HPA maximum replicas', { min: 1 }),
        targetCPUUtilization: int(70, 'Target average CPU utilization (%)', { min: 1, max: 100 }),
        targetConnectionsPerPod: int(
          0,
          'Target open WebSocket connections per pod (parley_ws_connections through a metrics adapter); 0 = CPU only',
          { min: 0 },
        ),
      }),
    }),
    worker: group('Message worker (Kafka persister)', {
      replicaCount: int(1, 'Initial worker replicas (the operator scales them when autoscaler.enabled)', {
        min: 0,
      }),
      groupId: str('message-worker', 'Kafka consumer group of the workers (WORKER_GROUP_ID)'),
      resources: resources('Message worker', '200m', '256Mi', '768Mi'),
      ...placement('message worker'),
      config: appConfig('message worker', { LOG_LEVEL: 'info' }),
      autoscaler: group('ConsumerAutoscaler of the workers (reconciled by the operator)', {
        enabled: bool(true, 'Create a ConsumerAutoscaler for the worker Deployment'),
        minReplicas: int(1, 'Fewest workers', { min: 0 }),
        maxReplicas: int(12, 'Most workers (more than the chat.messages partitions sit idle)', { min: 1 }),
        lagThreshold: int(1000, 'Lag per replica (Lag policy) and the scale-from-zero trigger', { min: 1 }),
        policy: str('DrainTime', 'Scaling policy', { enum: ['DrainTime', 'Lag'] }),
        targetDrainSeconds: int(60, 'DrainTime policy: drain the backlog within this many seconds', {
          min: 1,
        }),
      }),
    }),
    media: group('Message media role: attachments (/v1/media), on S3-compatible storage or a volume', {
      replicaCount: int(
        1,
        'Media replicas; more than 1 needs object storage (s3.bucket), the disk store is one volume',
        { min: 1 },
      ),
      resources: resources('Message media', '100m', '256Mi', '1Gi'),
      ...placement('message media'),
      config: appConfig('media role', { LOG_LEVEL: 'info' }),
      maxUploadBytes: int(MiB * 25, 'Largest file in one request (MEDIA_MAX_UPLOAD_BYTES)', {
        min: 1024,
      }),
      maxFileBytes: int(MiB * 2048, 'Largest file through the multipart upload (MEDIA_MAX_FILE_BYTES)', {
        min: 1024,
      }),
      allowedTypes: str(
        'image/*,video/mp4,video/webm,video/quicktime,audio/mpeg,audio/ogg,audio/mp4,application/pdf,application/zip',
        'Sniffed types a cleartext upload may have, comma-separated, image/* wildcards (MEDIA_ALLOWED_TYPES)',
        { pattern: '^[A-Za-z0-9.+*/-]+(,[A-Za-z0-9.+*/-]+)*$' },
      ),
      quotaBytes: int(MiB * 1024, 'Attachment storage per user, variants included (MEDIA_QUOTA_BYTES)', {
        min: 0,
      }),
      proxyBodySize: str(
        '32m',
        'ingress-nginx proxy-body-size of the /v1/media routes: at least maxUploadBytes and one multipart part (8 MiB)',
        { pattern: '^[0-9]+[kKmMgG]?$' },
      ),
      s3: group('S3-compatible object store (AWS S3, MinIO, Ceph RGW, SeaweedFS)', {
        bucket: str(
          '',
          'Bucket of attachments; "" = files on a PersistentVolumeClaim (persistence.*), one replica only',
        ),
        endpoint: str('', 'Endpoint URL of a self-hosted S3 (e.g. http://minio.storage:9000); "" = AWS S3', {
          pattern: '^(https?://[^\\s/?#]+/?)?$',
        }),
        region: str('us-east-1', 'S3 region'),
        forcePathStyle: bool(
          true,
          'Path-style URLs (self-hosted S3 needs them); false for AWS virtual-host style',
        ),
        port: int(443, 'Port of the S3 endpoint the media egress NetworkPolicy allows', {
          min: 1,
          max: 65535,
        }),
        existingSecret: existingSecret(
          'the S3 credentials (required with a bucket)',
          'access-key-id, secret-access-key',
        ),
      }),
      persistence: persistence('media disk store (when s3.bucket is "")', '10Gi'),
    }),
    notifier: group('Message notifier role: email, Web Push and FCM for offline members', {
      replicaCount: int(1, 'Notifier replicas (one consumer group over chat.events)', { min: 1 }),
      resources: resources('Message notifier', '100m', '192Mi', '512Mi'),
      ...placement('message notifier'),
      config: appConfig('notifier', { LOG_LEVEL: 'info' }),
      publicUrl: str(
        '',
        'Public base URL for links in mail (NOTIFY_PUBLIC_URL); "" = http(s)://<ingress.host>',
        { pattern: '^(https?://\\S+)?$' },
      ),
      vapidSubject: str('mailto:admin@parley.local', 'VAPID contact, mailto: or https: (VAPID_SUBJECT)', {
        pattern: '^(mailto:|https://)\\S+$',
      }),
      keys: group(
        'VAPID key pair and unsubscribe-link key (generated in the cluster when no Secret is given)',
        {
          existingSecret: existingSecret(
            'the Web Push VAPID pair and the unsubscribe HMAC key (the notifier reads all three; the api only the public key and the unsubscribe key)',
            'vapid-public-key, vapid-private-key (base64url P-256), unsubscribe-secret (32+ characters)',
          ),
        },
      ),
      smtp: group('SMTP for notification and email verification mail (host "" = no mail)', {
        host: str(
          '',
          'SMTP server host name, for the notifier and the auth service; "" = no notification mail, and EMAIL_DISABLED for email verification',
        ),
        port: int(587, 'SMTP port (587 submission with STARTTLS, 465 with tls)', { min: 1, max: 65535 }),
        tls: bool(false, 'Implicit TLS (smtps://); false = smtp:// with STARTTLS when the server offers it'),
        from: str(
          'Parley <notifications@parley.local>',
          'From address of notification and verification mail (SMTP_FROM)',
        ),
        existingSecret: existingSecret('SMTP credentials, URL-encoded; "" = no AUTH', 'username, password'),
      }),
      fcm: group('FCM HTTP v1 mobile push (off when no Secret is given)', {
        existingSecret: existingSecret(
          'a Google service-account JSON key, mounted read-only as FCM_CREDENTIALS_FILE',
          'credentials.json',
        ),
      }),
    }),
    dlqReplay: group(
      'Opt-in Job running `npm run dlq -- <action>` on chat.messages.dlq once per install/upgrade while enabled',
      {
        enabled: bool(false, 'Run the dead-letter Job (enable for one upgrade after a fix, then disable)'),
        action: str(
          'list',
          'list (print pending records), replay (send them back to chat.messages) or drop',
          {
            enum: ['list', 'replay', 'drop'],
          },
        ),
      },
    ),
  }),
  operator: group('Parley operator (Topic and ConsumerAutoscaler resources)', {
    replicaCount: int(1, 'Operator replicas (one leads through a Lease)', { min: 1 }),
    image: image('parley/operator', APP_VERSION, 'Operator'),
    resources: resources('Operator', '50m', '128Mi', '256Mi'),
    config: appConfig('operator', { LOG_LEVEL: 'info' }),
  }),
  topics: group('Kafka topics, as Topic resources the operator reconciles', {
    chatPartitions: int(128, 'Partitions of chat.messages and chat.events', { min: 1 }),
    dlqPartitions: int(3, 'Partitions of chat.messages.dlq and chat.events.notify.dlq', { min: 1 }),
    userEventsPartitions: int(3, 'Partitions of user.events', { min: 1 }),
    retentionMs: int(604800000, 'retention.ms of the chat and user topics', { min: -1 }),
  }),
  ingress: group('Ingress (ingress-nginx) for REST and /v1/ws', {
    enabled: bool(true, 'Create the Ingress'),
    className: str('nginx', 'IngressClass name'),
    host: str('parley.local', 'Host name clients use'),
    tls: group('TLS', {
      enabled: bool(false, 'Serve TLS with the Secret below (e.g. from cert-manager)'),
      secretName: str('parley-tls', 'TLS Secret name'),
    }),
    annotations: block(
      {
        'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
        'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
        'nginx.ingress.kubernetes.io/proxy-body-size': '1m',
        'nginx.ingress.kubernetes.io/proxy-http-version': '1.1',
      },
      'Ingress annotations (socket timeouts long enough for WebSockets, body size)',
      stringMap,
    ),
  }),
  kafka: group('Kafka', {
    mode: str(
      'kraft',
      'kraft (Kafka 4) or zookeeper (a 3-node ensemble; Kafka 3.9.x, the last line with ZooKeeper)',
      {
        enum: ['kraft', 'zookeeper'],
      },
    ),
    image: image('apache/kafka', '4.4.0', 'Kafka (KRaft mode)'),
    zookeeperModeImageTag: str(
      '3.9.2',
      'apache/kafka tag in zookeeper mode (Kafka 4 removed ZooKeeper support)',
    ),
    replicaCount: int(3, 'Brokers (in KRaft combined mode each is also a controller)', { min: 1 }),
    controllerReplicaCount: int(0, 'KRaft: dedicated controllers (0 = brokers are also controllers)', {
      min: 0,
    }),
    clusterId: str(
      'cGFybGV5LWthZmthLTAwMQ',
      'KRaft cluster id: 16 bytes in base64url, 22 characters (kafka-storage.sh random-uuid)',
      {
        pattern: '^[A-Za-z0-9_-]{22}$',
      },
    ),
    replicationFactor: int(3, 'default.replication.factor and the Topic resources replication factor', {
      min: 1,
    }),
    minInsyncReplicas: int(2, 'min.insync.replicas', { min: 1 }),
    heapOpts: str('-Xms512m -Xmx512m', 'KAFKA_HEAP_OPTS'),
    resources: resources('Kafka', '250m', '1Gi', '2Gi'),
    ...placement('Kafka'),
    topologyKey: str(
      'kubernetes.io/hostname',
      'Spread brokers across this node label (e.g. topology.kubernetes.io/zone)',
    ),
    persistence: persistence('Kafka', '20Gi'),
    zookeeper: group('ZooKeeper ensemble (kafka.mode=zookeeper)', {
      image: image('zookeeper', '3.8.4', 'ZooKeeper'),
      resources: resources('ZooKeeper', '100m', '256Mi', '512Mi'),
      persistence: persistence('ZooKeeper', '5Gi'),
    }),
  }),
  redis: group('Redis Cluster', {
    image: image('redis', '7.2.5', 'Redis'),
    nodes: int(6, 'Redis Cluster nodes (masters x (1 + replicasPerMaster))', { min: 3 }),
    replicasPerMaster: int(1, 'Replicas of each master', { min: 0 }),
    maxmemory: str('256mb', 'maxmemory of each node'),
    maxmemoryPolicy: str('noeviction', 'maxmemory-policy (revocation markers must not be evicted)'),
    resources: resources('Redis', '100m', '128Mi', '512Mi'),
    ...placement('Redis'),
    persistence: persistence('Redis', '4Gi'),
    auth: group('Redis password', {
      existingSecret: existingSecret('the Redis password', 'redis-password'),
    }),
  }),
  mongodb: group('MongoDB replica set', {
    image: image('mongo', '7.0.14', 'MongoDB'),
    replicaCount: int(3, 'Replica set members', { min: 1 }),
    replicaSetName: str('rs0', 'Replica set name'),
    database: str('parley', 'Application database'),
    resources: resources('MongoDB', '250m', '512Mi', '1Gi'),
    ...placement('MongoDB'),
    persistence: persistence('MongoDB', '20Gi'),
    auth: group('MongoDB credentials (generated in the cluster when no Secret is given)', {
      existingSecret: existingSecret(
        'MongoDB credentials (URL-safe passwords)',
        'root-password, parley-password, metrics-password, keyfile',
      ),
    }),
  }),
  networkPolicy: group('NetworkPolicies: default deny plus the exact allows', {
    enabled: bool(true, 'Create the NetworkPolicies'),
    ingressNamespaceSelector: block(
      { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
      'Namespaces whose pods (the ingress controller) may reach the auth service and message api',
      anyObject,
    ),
    monitoringNamespaceSelector: block(
      { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
      'Namespaces whose pods (Prometheus) may scrape metrics, when metrics.enabled',
      anyObject,
    ),
    apiServerPorts: block(
      [
        { port: 443, protocol: 'TCP' },
        { port: 6443, protocol: 'TCP' },
      ],
      "Ports on which the operator and the secrets Job reach the Kubernetes API server. Policies see the API server endpoint's own port, after the kubernetes Service's DNAT: `kubectl get endpointslices -l kubernetes.io/service-name=kubernetes`",
      {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['port'],
          additionalProperties: false,
          properties: {
            port: { type: 'integer', minimum: 1, maximum: 65535 },
            protocol: { enum: ['TCP'] },
          },
        },
      },
    ),
  }),
  metrics: group('Monitoring', {
    enabled: bool(false, 'Run the Kafka, Redis and MongoDB exporters and allow scraping'),
    serviceMonitor: bool(false, 'Create ServiceMonitors (needs the Prometheus Operator CRDs)'),
    prometheusRule: bool(
      false,
      'Create a PrometheusRule with the alerts (needs the Prometheus Operator CRDs)',
    ),
    dashboards: bool(false, 'Create Grafana dashboard ConfigMaps (label grafana_dashboard=1)'),
    prometheusConfig: bool(
      false,
      'Create a ConfigMap with a plain prometheus.yml for clusters without the operator',
    ),
    runbookBaseUrl: str(
      RUNBOOK_BASE_URL,
      "Where monitoring/RUNBOOKS.md is published (e.g. an internal copy); each alert's runbook_url is <this>#<its section>, e.g. #parleyservicedown",
      { pattern: '^https?://[^\\s#]+$' },
    ),
    kafkaExporterImage: image('danielqsj/kafka-exporter', 'v1.8.0', 'Kafka exporter'),
    redisExporterImage: image('oliver006/redis_exporter', 'v1.62.0', 'Redis exporter'),
    mongodbExporterImage: image('percona/mongodb_exporter', '0.40.0', 'MongoDB exporter'),
  }),
  tracing: group('OpenTelemetry tracing of the auth service and every message role', {
    endpoint: str(
      '',
      'OTLP/HTTP traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), e.g. http://otel-collector.observability:4318/v1/traces; "" = tracing off',
      { pattern: '^(https?://[^\\s/?#]+([/?#]\\S*)?)?$' },
    ),
    sampleRatio: block<number | string>(
      1,
      'Fraction of new traces sampled, 0..1, a number or a decimal string (OTEL_TRACES_SAMPLER_ARG; parent-based)',
      sampleRatioSchema,
    ),
    collector: group('The collector pods the egress NetworkPolicy allows (when networkPolicy.enabled)', {
      namespaceSelector: block(
        { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } },
        'Namespaces the collector runs in',
        anyObject,
      ),
      podSelector: block(
        {},
        'Collector pods in those namespaces ({} = any pod), e.g. matchLabels app.kubernetes.io/name: opentelemetry-collector',
        anyObject,
      ),
      port: int(4318, 'Port the collector pods receive OTLP/HTTP on (the pod port, not the Service port)', {
        min: 1,
        max: 65535,
      }),
    }),
  }),
  tests: group('`helm test`', {
    baseUrl: str(
      '',
      'URL the test reaches Parley through, e.g. http://parley.local (the ingress, seen from a pod); empty: the auth and message api Services',
    ),
  }),
  kafkaUi: group('Kafka UI (kafka-ui on 8080; reach it with kubectl port-forward)', {
    enabled: bool(false, 'Run Kafka UI'),
    image: image('provectuslabs/kafka-ui', 'v0.7.2', 'Kafka UI'),
  }),
});

export type ParleyValues = Infer<typeof parleyValuesSpec>;

export const defaultValues = (): ParleyValues => defaultsOf(parleyValuesSpec);
