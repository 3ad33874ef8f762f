import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import {
  checksumOfValue,
  containerSecurity,
  fieldEnv,
  httpProbe,
  imageOf,
  secretEnv,
  tmpMount,
  tmpVolume,
  type Json,
} from './pod.ts';
import { NODE_UID } from './secrets.ts';
import { valueAt } from './values/spec.ts';
import { Workload } from './workload.ts';

export const HTTP_PORT = 8080;
/**
 * /healthz, /readyz, /metrics and /version of the services (MANAGEMENT_PORT). The Service names it
 * `management` for probes and Prometheus; the Ingress routes only to HTTP_PORT (#15).
 */
export const MANAGEMENT_PORT = 9090;
/** SHUTDOWN_TIMEOUT_MS of the services, plus the preStop pause, plus a margin. */
const SHUTDOWN_SECONDS = 20;
const PRESTOP_SECONDS = 5;

export interface ParleyAppProps {
  /** Component name, e.g. `auth`, `message-api`. */
  readonly component: string;
  /** Values path of the image group. */
  readonly imagePath: string;
  /** Values path of the component (replicaCount, resources, config, nodeSelector, tolerations). */
  readonly valuesPath: string;
  /** Replicas (a knob or expression). @default the value at `<valuesPath>.replicaCount` */
  readonly replicas?: number;
  /** Environment besides the shared ones. @default [] */
  readonly env?: readonly Json[];
  /** Connection settings every Parley process gets. */
  readonly backends: Backends;
  /** Needs the Kubernetes API (the operator). @default false */
  readonly apiAccess?: boolean;
  /**
   * Secret keys mounted as read-only files: volume name → Secret, key and mount directory, and
   * whether the Secret may be absent (an empty directory then). @default {}
   */
  readonly secretFiles?: Record<
    string,
    { readonly secret: string; readonly key: string; readonly dir: string; readonly optional?: boolean }
  >;
  /** Volumes besides /tmp and the secret files, each with its mount. @default [] */
  readonly volumes?: readonly { readonly volume: Json; readonly mount: Json }[];
  /** Stop the old pod before starting the new one (a ReadWriteOnce volume). @default false */
  readonly recreate?: boolean;
  /** Gets the Redis and MongoDB settings and credentials (not the operator). @default true */
  readonly stores?: boolean;
  /** PDB maxUnavailable (0 = none). @default 1 */
  readonly maxUnavailable?: number;
  /** Reads the OTEL_* settings, so gets them from `tracing.*`. @default true */
  readonly traced?: boolean;
  /**
   * Serves an API on HTTP_PORT (the services). Without one (the operator) the process has only its
   * management server: /healthz, /readyz, /metrics and /version on MANAGEMENT_PORT. @default true
   */
  readonly api?: boolean;
}

/** Where the stateful backends are, and the Secrets holding their credentials. */
export interface Backends {
  readonly kafka: string;
  readonly redisSeeds: string;
  readonly redisSecret: string;
  /** host:port clients start from (the driver discovers the replica set). */
  readonly mongoSeed: string;
  readonly mongoSecret: string;
}

/**
 * One Parley process (auth, message api or worker, operator) as a Deployment: probes on /healthz
 * and /readyz, a ConfigMap of its settings (pods roll when it changes), credentials from Secrets,
 * and a termination grace period that covers the service's drain.
 */
export class ParleyApp extends Construct {
  readonly workload: Workload;

  constructor(scope: Construct, id: string, k: Knobs, props: ParleyAppProps) {
    super(scope, id);
    const { component, valuesPath, backends: b } = props;
    const configName = k.name(`${component}-config`);
    const files = props.secretFiles ?? {};
    const config = settingsOf(k, valuesPath, props.traced ?? true);
    k.emit(this, 'config', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: k.meta(configName, component),
      data: k.expr(config.plain, config.helm, 'block'),
    });
    const database = k.v<string>('mongodb.database');
    const api = props.api ?? true;
    const probePort = 'management';
    const env: Json[] = [
      ...(api
        ? [
            { name: 'HOST', value: '0.0.0.0' },
            { name: 'PORT', value: String(HTTP_PORT) },
            { name: 'TRUST_PROXY', value: 'true' },
          ]
        : []),
      { name: 'MANAGEMENT_PORT', value: String(MANAGEMENT_PORT) },
      { name: 'SHUTDOWN_TIMEOUT_MS', value: String(SHUTDOWN_SECONDS * 1000) },
      fieldEnv('POD_NAME', 'metadata.name'),
      fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
      { name: 'KAFKA_BROKERS', value: b.kafka },
      ...(props.stores === false
        ? []
        : [
            { name: 'REDIS_NODES', value: b.redisSeeds },
            secretEnv('REDIS_PASSWORD', b.redisSecret, 'redis-password'),
            secretEnv('MONGO_PASSWORD', b.mongoSecret, 'parley-password'),
            {
              name: 'MONGO_URL',
              value: `mongodb://parley:$(MONGO_PASSWORD)@${b.mongoSeed}/${database}?replicaSet=${k.v<string>('mongodb.replicaSetName')}&authSource=${database}`,
            },
          ]),
      ...(props.env ?? []),
    ];
    this.workload = new Workload(this, 'app', k, {
      component,
      replicas: props.replicas ?? k.v(`${valuesPath}.replicaCount`),
      uid: NODE_UID,
      apiAccess: props.apiAccess ?? false,
      maxUnavailable: props.maxUnavailable ?? 1,
      podAnnotations: { 'checksum/config': checksumOfValue(k, config.plain, config.helm) },
      placementPath: hasPlacement(k, valuesPath) ? valuesPath : undefined,
      terminationGracePeriodSeconds: SHUTDOWN_SECONDS + PRESTOP_SECONDS + 5,
      recreate: props.recreate ?? false,
      containers: [
        {
          name: component,
          ...imageOf(k, props.imagePath),
          env,
          envFrom: [{ configMapRef: { name: configName } }],
          ports: [
            ...(api ? [{ name: 'http', containerPort: HTTP_PORT }] : []),
            { name: 'management', containerPort: MANAGEMENT_PORT },
          ],
          resources: k.block(`${valuesPath}.resources`),
          securityContext: containerSecurity(true),
          startupProbe: httpProbe('/healthz', probePort, { periodSeconds: 2, failureThreshold: 60 }),
          livenessProbe: httpProbe('/healthz', probePort),
          readinessProbe: httpProbe('/readyz', probePort, { periodSeconds: 5 }),
          // Endpoints are removed asynchronously: keep serving a moment before SIGTERM.
          lifecycle: { preStop: { exec: { command: ['sleep', String(PRESTOP_SECONDS)] } } },
          volumeMounts: [
            tmpMount(),
            ...Object.entries(files).map(([name, f]) => ({ name, mountPath: f.dir, readOnly: true })),
            ...(props.volumes ?? []).map((v) => v.mount),
          ],
        },
      ],
      volumes: [
        tmpVolume(),
        ...Object.entries(files).map(([name, f]) => ({
          name,
          secret: {
            secretName: f.secret,
            items: [{ key: f.key, path: f.key }],
            defaultMode: 0o440,
            ...(f.optional ? { optional: true } : {}),
          },
        })),
        ...(props.volumes ?? []).map((v) => v.volume),
      ],
      ports: [
        ...(api ? [{ name: 'http', port: HTTP_PORT }] : []),
        { name: 'management', port: MANAGEMENT_PORT },
      ],
    });
  }
}

const TRACED_CONFIG = 'parley.tracedConfig';

/**
 * The ConfigMap data of a process: for a traced one, OTEL_* from `tracing.*` when an endpoint is
 * set, with `<valuesPath>.config` over them, so a component's own entry wins (an empty
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT turns tracing off for it alone). The ConfigMap is read with
 * envFrom, so the container's explicit env (HOST, PORT, KAFKA_BROKERS…) still wins over both.
 */
function settingsOf(k: Knobs, valuesPath: string, traced: boolean): { plain: Json; helm: string } {
  const config = valueAt(k.values, `${valuesPath}.config`) as Record<string, string>;
  if (!traced) return { plain: config, helm: `$.Values.${valuesPath}.config` };
  // Built key by key: sprig's merge would let a tracing value replace an empty config entry.
  k.define(
    TRACED_CONFIG,
    `
{{- $root := index . 0 -}}
{{- $data := dict -}}
{{- with $root.Values.tracing.endpoint -}}
{{- $_ := set $data "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" . -}}
{{- $_ := set $data "OTEL_TRACES_SAMPLER_ARG" (toString $root.Values.tracing.sampleRatio) -}}
{{- end -}}
{{- range $key, $value := index . 1 -}}
{{- $_ := set $data $key $value -}}
{{- end -}}
{{- toYaml $data -}}`,
  );
  const { endpoint, sampleRatio } = k.values.tracing;
  const tracing = endpoint
    ? { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER_ARG: String(sampleRatio) }
    : {};
  return {
    plain: { ...tracing, ...config },
    helm: `(include "${TRACED_CONFIG}" (list $ $.Values.${valuesPath}.config) | fromYaml)`,
  };
}

function hasPlacement(k: Knobs, path: string): boolean {
  const node = path.split('.').reduce<unknown>((v, p) => (v as Json)[p], k.values) as Json;
  return 'nodeSelector' in node;
}
