/** Values profiles shipped with the chart, and the extra value sets the checks render. */

const small = (cpu: string, memory: string, limit: string) => ({
  requests: { cpu, memory },
  limits: { memory: limit },
});

/** A laptop: one broker, one MongoDB member, three Redis masters, small requests. */
const laptop = (host: string) => ({
  auth: { replicaCount: 1, resources: small('50m', '128Mi', '512Mi') },
  message: {
    api: { replicaCount: 1, resources: small('50m', '128Mi', '512Mi'), autoscaling: { enabled: false } },
    worker: { resources: small('50m', '128Mi', '512Mi'), autoscaler: { maxReplicas: 4 } },
  },
  operator: { resources: small('20m', '96Mi', '256Mi') },
  topics: { chatPartitions: 8, dlqPartitions: 1, userEventsPartitions: 1 },
  ingress: { host },
  kafka: {
    replicaCount: 1,
    replicationFactor: 1,
    minInsyncReplicas: 1,
    heapOpts: '-Xms256m -Xmx256m',
    resources: small('100m', '512Mi', '1Gi'),
    persistence: { size: '2Gi' },
    zookeeper: { resources: small('50m', '128Mi', '256Mi'), persistence: { size: '1Gi' } },
  },
  redis: {
    nodes: 3,
    replicasPerMaster: 0,
    resources: small('25m', '32Mi', '128Mi'),
    persistence: { size: '512Mi' },
    maxmemory: '64mb',
  },
  mongodb: { replicaCount: 1, resources: small('100m', '256Mi', '512Mi'), persistence: { size: '2Gi' } },
});

/** An image built on the machine (scripts/images): never pulled. */
const local = (repository: string, tag: string) => ({ repository, tag, pullPolicy: 'Never' });

/**
 * The one-node cluster built from nothing (scripts/kube/node-up.sh): images built there, Traefik
 * as the ingress controller, and real replication where the stand-ins allow it: 3 Kafka brokers
 * (RF 3, min ISR 2), Redis Cluster 3 masters + 3 replicas. MongoDB is a STAND-IN (FerretDB v1,
 * scripts/images/infra.sh) without replica sets, so one member.
 */
const localNode = {
  ...laptop('parley.local'),
  ingress: { className: 'traefik', host: 'parley.local', annotations: {} },
  // CoreDNS on that node answers parley.local with Traefik's Service, so the test pod goes
  // through the ingress.
  tests: { baseUrl: 'http://parley.local' },
  networkPolicy: {
    ingressNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-traefik' } },
    // That node's API server listens on 16443 (scripts/kube/node/lib.sh).
    apiServerPorts: [{ port: 16443, protocol: 'TCP' }],
  },
  kafka: {
    image: local('localhost/parley-infra/kafka', '4.4.0'),
    replicaCount: 3,
    replicationFactor: 3,
    minInsyncReplicas: 2,
    heapOpts: '-Xms256m -Xmx256m',
    resources: small('100m', '512Mi', '1Gi'),
    persistence: { size: '1Gi' },
  },
  redis: {
    image: local('localhost/parley-infra/redis', '7'),
    nodes: 6,
    replicasPerMaster: 1,
    resources: small('25m', '32Mi', '128Mi'),
    persistence: { size: '256Mi' },
    maxmemory: '64mb',
  },
  mongodb: {
    image: local('localhost/parley-infra/mongodb', 'ferretdb-v1.24.2'),
    replicaCount: 1,
    resources: small('50m', '128Mi', '512Mi'),
    persistence: { size: '1Gi' },
  },
};

export const PROFILES: Record<string, unknown> = {
  'values-kind.yaml': laptop('parley.localhost'),
  'values-local.yaml': localNode,
  'values-minikube.yaml': laptop('parley.local'),
  'values-production.yaml': {
    auth: { replicaCount: 3, resources: small('250m', '256Mi', '1Gi') },
    message: {
      api: {
        resources: small('500m', '512Mi', '2Gi'),
        autoscaling: { minReplicas: 3, maxReplicas: 20, targetConnectionsPerPod: 20000 },
      },
      worker: {
        replicaCount: 3,
        resources: small('500m', '512Mi', '1Gi'),
        autoscaler: { minReplicas: 3, maxReplicas: 64 },
      },
      // Production attachments live in object storage (create the bucket and this Secret first).
      media: {
        replicaCount: 2,
        resources: small('250m', '512Mi', '2Gi'),
        s3: { bucket: 'parley-media', existingSecret: 'parley-s3' },
      },
      notifier: { replicaCount: 2 },
    },
    operator: { replicaCount: 2 },
    ingress: { tls: { enabled: true } },
    kafka: {
      replicaCount: 3,
      controllerReplicaCount: 3,
      heapOpts: '-Xms2g -Xmx2g',
      resources: small('1', '4Gi', '6Gi'),
      topologyKey: 'topology.kubernetes.io/zone',
      persistence: { size: '200Gi' },
    },
    redis: { maxmemory: '1gb', resources: small('250m', '1Gi', '1536Mi'), persistence: { size: '10Gi' } },
    mongodb: { resources: small('1', '4Gi', '8Gi'), persistence: { size: '200Gi' } },
    metrics: { enabled: true, serviceMonitor: true, prometheusRule: true, dashboards: true },
  },
};

/** Values the chart check renders besides the profiles (chart-testing's ci/ convention). */
export const CI_VALUES: Record<string, unknown> = {
  'ci/zookeeper-values.yaml': { kafka: { mode: 'zookeeper' } },
  'ci/existing-secrets-values.yaml': {
    auth: {
      jwt: { existingSecret: 'my-jwt' },
      twilio: { existingSecret: 'my-twilio' },
      github: { existingSecret: 'my-github' },
    },
    message: {
      media: {
        replicaCount: 3,
        s3: {
          bucket: 'chat-media',
          endpoint: 'http://minio.storage:9000',
          port: 9000,
          existingSecret: 'my-s3',
        },
      },
      notifier: {
        keys: { existingSecret: 'my-notify-keys' },
        smtp: { host: 'smtp.example.com', existingSecret: 'my-smtp' },
        fcm: { existingSecret: 'my-fcm' },
      },
    },
    redis: { auth: { existingSecret: 'my-redis' } },
    mongodb: { auth: { existingSecret: 'my-mongodb' } },
  },
  'ci/all-features-values.yaml': {
    fullnameOverride: 'chat',
    imagePullSecrets: [{ name: 'registry' }],
    message: {
      api: { autoscaling: { targetConnectionsPerPod: 5000 } },
      worker: { autoscaler: { enabled: false } },
      media: { persistence: { storageClass: 'fast' } },
      notifier: {
        publicUrl: 'https://chat.example.com',
        smtp: { host: 'smtp.example.com', port: 465, tls: true },
      },
      dlqReplay: { enabled: true, action: 'replay' },
    },
    ingress: { tls: { enabled: true, secretName: 'chat-tls' } },
    kafka: {
      controllerReplicaCount: 3,
      persistence: { storageClass: 'fast' },
      nodeSelector: { disk: 'ssd' },
    },
    metrics: {
      enabled: true,
      serviceMonitor: true,
      prometheusRule: true,
      dashboards: true,
      prometheusConfig: true,
      runbookBaseUrl: 'https://wiki.example.com/ops/parley-runbooks',
    },
    kafkaUi: { enabled: true },
    networkPolicy: { enabled: true },
    tracing: { endpoint: 'https://otel.example.com/v1/traces', sampleRatio: '0.5' },
  },
  // A number ratio, a collector narrowed to its pods, and a component's own setting winning.
  'ci/tracing-values.yaml': {
    tracing: {
      endpoint: 'http://otel-collector.observability:4318/v1/traces',
      sampleRatio: 0.25,
      collector: { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'opentelemetry-collector' } } },
    },
    message: { worker: { config: { OTEL_TRACES_SAMPLER_ARG: '1' } } },
  },
};
