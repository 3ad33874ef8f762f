import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { DlqReplayJob } from './dlq-job.ts';
import { HelmTest } from './helm-test.ts';
import { Ingress } from './ingress.ts';
import { Kafka, CONTROLLER_PORT, KAFKA_PORT, ZOOKEEPER_CLIENT_PORTS } from './kafka.ts';
import { KafkaUi } from './kafka-ui.ts';
import { Knobs, type KnobsProps } from './knobs.ts';
import { Monitoring, EXPORTER_PORTS } from './monitoring.ts';
import { MessageMedia, MessageNotifier, notifyKeyEnv, smtpEnv } from './message-roles.ts';
import { MongoDb, MONGODB_PORT } from './mongodb.ts';
import { NetworkPolicies, type Allow, type PolicyPort } from './network-policies.ts';
import { Operator } from './operator.ts';
import { HTTP_PORT, MANAGEMENT_PORT, ParleyApp, type Backends } from './parley-app.ts';
import { RedisCluster, REDIS_BUS_PORT, REDIS_PORT } from './redis-cluster.ts';
import { Secrets } from './secrets.ts';
import { valueAt } from './values/spec.ts';

export type ParleyChartProps = KnobsProps;

/** Everything Parley runs on Kubernetes: the backends, the services, the operator and policies. */
export class ParleyChart extends Chart {
  readonly knobs: Knobs;

  constructor(scope: Construct, id: string, props: ParleyChartProps) {
    super(scope, id, { disableResourceNameHashes: true });
    const k = (this.knobs = new Knobs(props));

    const secrets = new Secrets(this, 'secrets', k);
    const kafka = new Kafka(this, 'kafka', k);
    const redis = new RedisCluster(this, 'redis', k, { passwordSecret: secrets.redis });
    const mongodb = new MongoDb(this, 'mongodb', k, { secret: secrets.mongodb });
    const backends: Backends = {
      kafka: kafka.bootstrap,
      redisSeeds: redis.seeds,
      redisSecret: secrets.redis,
      mongoSeed: mongodb.seed,
      mongoSecret: secrets.mongodb,
    };

    const auth = new ParleyApp(this, 'auth', k, {
      component: 'auth',
      imagePath: 'auth.image',
      valuesPath: 'auth',
      backends,
      // A file rather than an environment variable: not visible in /proc/<pid>/environ.
      secretFiles: { jwt: { secret: secrets.jwt, key: 'signing-keys', dir: '/etc/parley/jwt' } },
      env: [
        { name: 'JWT_SIGNING_KEYS_FILE', value: '/etc/parley/jwt/signing-keys' },
        ...optionalSecretEnv(secrets.twilio, {
          TWILIO_ACCOUNT_SID: 'account-sid',
          TWILIO_AUTH_TOKEN: 'auth-token',
          TWILIO_FROM: 'from',
        }),
        ...optionalSecretEnv(secrets.github, {
          GITHUB_CLIENT_ID: 'client-id',
          GITHUB_CLIENT_SECRET: 'client-secret',
          GITHUB_REDIRECT_URL: 'redirect-url',
        }),
        ...optionalSecretEnv(secrets.adminBootstrap, { AUTH_ADMIN_BOOTSTRAP_SECRET: 'secret' }),
        { name: 'TOPIC_USER_EVENTS_PARTITIONS', value: k.text('topics.userEventsPartitions') },
        // Email verification codes go out through the notifier's SMTP settings.
        ...smtpEnv(k, secrets),
      ],
    });
    const chatTopics = [
      { name: 'AUTH_JWKS_URL', value: `http://${auth.workload.name}:${HTTP_PORT}/.well-known/jwks.json` },
      { name: 'CHAT_TOPIC_PARTITIONS', value: k.text('topics.chatPartitions') },
      { name: 'DLQ_TOPIC_PARTITIONS', value: k.text('topics.dlqPartitions') },
      { name: 'CHAT_TOPIC_REPLICATION', value: k.text('kafka.replicationFactor') },
      { name: 'WORKER_GROUP_ID', value: k.v<string>('message.worker.groupId') },
    ];
    const autoscaled = k.values.message.api.autoscaling.enabled;
    const api = new ParleyApp(this, 'message-api', k, {
      component: 'message-api',
      imagePath: 'message.image',
      valuesPath: 'message.api',
      backends,
      replicas: k.expr(
        autoscaled ? k.values.message.api.autoscaling.minReplicas : k.values.message.api.replicaCount,
        'ternary $.Values.message.api.autoscaling.minReplicas $.Values.message.api.replicaCount $.Values.message.api.autoscaling.enabled | int64',
        'int',
      ),
      env: [{ name: 'ROLE', value: 'api' }, ...chatTopics, ...notifyKeyEnv(secrets, 'api')],
    });
    this.hpa(k, api.workload.name);
    const worker = new ParleyApp(this, 'message-worker', k, {
      component: 'message-worker',
      imagePath: 'message.image',
      valuesPath: 'message.worker',
      backends,
      env: [{ name: 'ROLE', value: 'worker' }, ...chatTopics],
    });
    const roles = { backends, secrets, shared: chatTopics };
    const media = new MessageMedia(this, 'message-media', k, roles);
    new MessageNotifier(this, 'message-notifier', k, roles);
    new DlqReplayJob(this, 'dlq-replay', k, { kafka: kafka.bootstrap });
    new Operator(this, 'operator', k, { backends, workerDeployment: worker.workload.name });
    new Ingress(this, 'ingress', k, {
      authService: auth.workload.name,
      apiService: api.workload.name,
      mediaService: media.serviceName,
    });
    new Monitoring(this, 'monitoring', k, {
      kafka: kafka.bootstrap,
      redisSecret: secrets.redis,
      mongoHosts: mongodb.hosts,
      mongoSecret: secrets.mongodb,
    });
    new KafkaUi(this, 'kafka-ui', k, { kafka: kafka.bootstrap });
    new NetworkPolicies(this, 'network-policies', k, { allows: allows(k) });
    new HelmTest(this, 'test', k, { authService: auth.workload.name, apiService: api.workload.name });
  }

  private hpa(k: Knobs, deployment: string): void {
    const cpu = {
      type: 'Resource',
      resource: {
        name: 'cpu',
        target: {
          type: 'Utilization',
          averageUtilization: k.v('message.api.autoscaling.targetCPUUtilization'),
        },
      },
    };
    const connections = {
      type: 'Pods',
      pods: {
        metric: { name: 'parley_ws_connections' },
        target: {
          type: 'AverageValue',
          averageValue: k.text('message.api.autoscaling.targetConnectionsPerPod'),
        },
      },
    };
    const byConnections = 'gt (int $.Values.message.api.autoscaling.targetConnectionsPerPod) 0';
    const perPod = k.values.message.api.autoscaling.targetConnectionsPerPod > 0;
    k.when('message.api.autoscaling.enabled', () => {
      for (const withConnections of [true, false]) {
        k.under(withConnections ? byConnections : `not (${byConnections})`, perPod === withConnections, () =>
          k.emit(this, withConnections ? 'hpa-connections' : 'hpa-cpu', {
            apiVersion: 'autoscaling/v2',
            kind: 'HorizontalPodAutoscaler',
            metadata: k.meta(deployment, 'message-api'),
            spec: {
              scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment },
              minReplicas: k.v('message.api.autoscaling.minReplicas'),
              maxReplicas: k.v('message.api.autoscaling.maxReplicas'),
              metrics: withConnections ? [cpu, connections] : [cpu],
              behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
            },
          }),
        );
      }
    });
  }
}

function optionalSecretEnv(secret: string, keys: Record<string, string>) {
  return Object.entries(keys).map(([name, key]) => ({
    name,
    valueFrom: { secretKeyRef: { name: secret, key, optional: true } },
  }));
}

/** Every network path Parley needs, and nothing else. */
function allows(k: Knobs): Allow[] {
  const c = (component: string) => ({ component });
  const tcp = (...ports: number[]): PolicyPort[] => ports.map((port) => ({ port }));
  const http = tcp(HTTP_PORT);
  const zk = k.values.kafka.mode === 'zookeeper';
  const whenZk = { helm: 'eq $.Values.kafka.mode "zookeeper"', holds: zk };
  const whenControllers = {
    helm: 'and (eq $.Values.kafka.mode "kraft") (gt (int $.Values.kafka.controllerReplicaCount) 0)',
    holds: !zk && k.values.kafka.controllerReplicaCount > 0,
  };
  const whenMetrics = { helm: '$.Values.metrics.enabled', holds: k.values.metrics.enabled };
  const whenUi = { helm: '$.Values.kafkaUi.enabled', holds: k.values.kafkaUi.enabled };
  const ingressController = {
    namespaces: 'networkPolicy.ingressNamespaceSelector',
    label: 'ingress-controller',
  };
  const prometheus = { namespaces: 'networkPolicy.monitoringNamespaceSelector', label: 'prometheus' };
  const collector = {
    namespaces: 'tracing.collector.namespaceSelector',
    pods: 'tracing.collector.podSelector',
    label: 'otel-collector',
  };
  const whenTracing = { helm: '$.Values.tracing.endpoint', holds: k.values.tracing.endpoint !== '' };
  const apps = ['auth', 'message-api', 'message-worker', 'message-media', 'message-notifier'];
  // Present while the value at `path` is set (a non-empty string, true).
  const whenSet = (path: string) => ({ helm: `$.Values.${path}`, holds: Boolean(valueAt(k.values, path)) });
  const whenS3 = whenSet('message.media.s3.bucket');
  const whenSmtp = whenSet('message.notifier.smtp.host');
  const whenDlqJob = whenSet('message.dlqReplay.enabled');
  const zkPorts: PolicyPort[] = [{ port: ZOOKEEPER_CLIENT_PORTS[0], endPort: ZOOKEEPER_CLIENT_PORTS[2] }];
  return [
    { from: ingressController, to: c('auth'), ports: http },
    { from: ingressController, to: c('message-api'), ports: http },
    { from: ingressController, to: c('message-media'), ports: http },
    { from: c('message-api'), to: c('auth'), ports: http },
    // The media role verifies tokens through the auth service's JWKS, as the api does.
    { from: c('message-media'), to: c('auth'), ports: http },
    {
      from: c('message-media'),
      to: { external: 's3' },
      ports: tcp(k.v('message.media.s3.port')),
      when: whenS3,
    },
    ...['message-notifier', 'auth'].map((app) => ({
      from: c(app),
      to: { external: 'smtp' },
      ports: tcp(k.v('message.notifier.smtp.port')),
      when: whenSmtp,
    })),
    // Web Push endpoints (any push service a browser names) and FCM are HTTPS on the internet.
    { from: c('message-notifier'), to: { external: 'push-services' }, ports: tcp(443) },
    { from: c('dlq-replay'), to: c('kafka'), ports: tcp(KAFKA_PORT), when: whenDlqJob },
    { from: c('test'), to: c('auth'), ports: http },
    { from: c('test'), to: c('message-api'), ports: http },
    // With tests.baseUrl the test goes through the ingress controller, on whatever port its pods
    // listen (Traefik 8000, ingress-nginx 80): any port of the pods in its namespaces.
    { from: c('test'), to: ingressController, ports: [], when: whenSet('tests.baseUrl') },
    ...[...apps, 'operator'].map((app) => ({ from: c(app), to: c('kafka'), ports: tcp(KAFKA_PORT) })),
    ...apps.map((app) => ({ from: c(app), to: c('redis'), ports: tcp(REDIS_PORT) })),
    ...apps.map((app) => ({ from: c(app), to: c('mongodb'), ports: tcp(MONGODB_PORT) })),
    { from: c('operator'), to: { apiServer: true }, ports: [] },
    { from: c('secrets'), to: { apiServer: true }, ports: [] },
    { from: c('kafka'), to: c('kafka'), ports: tcp(KAFKA_PORT, CONTROLLER_PORT) },
    { from: c('kafka'), to: c('kafka-controller'), ports: tcp(CONTROLLER_PORT), when: whenControllers },
    {
      from: c('kafka-controller'),
      to: c('kafka-controller'),
      ports: tcp(CONTROLLER_PORT),
      when: whenControllers,
    },
    { from: c('kafka'), to: c('zookeeper'), ports: zkPorts, when: whenZk },
    { from: c('zookeeper'), to: c('zookeeper'), ports: [...zkPorts, ...tcp(2888, 3888)], when: whenZk },
    { from: c('redis'), to: c('redis'), ports: tcp(REDIS_PORT, REDIS_BUS_PORT) },
    { from: c('redis-cluster-init'), to: c('redis'), ports: tcp(REDIS_PORT) },
    { from: c('mongodb'), to: c('mongodb'), ports: tcp(MONGODB_PORT) },
    { from: c('mongodb-init'), to: c('mongodb'), ports: tcp(MONGODB_PORT) },
    { from: c('kafka-exporter'), to: c('kafka'), ports: tcp(KAFKA_PORT), when: whenMetrics },
    { from: c('redis-exporter'), to: c('redis'), ports: tcp(REDIS_PORT), when: whenMetrics },
    { from: c('mongodb-exporter'), to: c('mongodb'), ports: tcp(MONGODB_PORT), when: whenMetrics },
    { from: c('kafka-ui'), to: c('kafka'), ports: tcp(KAFKA_PORT), when: whenUi },
    // Prometheus scrapes every Parley process on its management port.
    ...[...apps, 'operator'].map((app) => ({
      from: prometheus,
      to: c(app),
      ports: tcp(MANAGEMENT_PORT),
      when: whenMetrics,
    })),
    // Every Parley process, the operator included, exports spans to the collector.
    ...[...apps, 'operator'].map((app) => ({
      from: c(app),
      to: collector,
      ports: tcp(k.v('tracing.collector.port')),
      when: whenTracing,
    })),
    ...Object.entries(EXPORTER_PORTS).map(([exporter, port]) => ({
      from: prometheus,
      to: c(exporter),
      ports: tcp(port),
      when: whenMetrics,
    })),
  ];
}
