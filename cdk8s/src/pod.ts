/**
 * Pod building blocks every workload shares: Pod Security "restricted" contexts, images from
 * values, probes, claims. Value objects only; the constructs put them together.
 */
import { createHash } from 'node:crypto';
import type { Knobs } from './knobs.ts';

export type Json = Record<string, unknown>;

/** Pod-level security: non-root, the image's uid, seccomp RuntimeDefault. */
export function podSecurity(uid: number, fsGroup = uid): Json {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: fsGroup,
    fsGroup,
    fsGroupChangePolicy: 'OnRootMismatch',
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * Container-level security: no privilege escalation, every capability dropped and, unless the
 * image must write to its own filesystem, a read-only root.
 */
export function containerSecurity(readOnlyRoot = true): Json {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: readOnlyRoot,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** `repository:tag` of an image group in the values. */
export function imageOf(k: Knobs, path: string, tagPath = `${path}.tag`): Json {
  return {
    image: `${k.v<string>(`${path}.repository`)}:${k.v<string>(tagPath)}`,
    imagePullPolicy: k.v(`${path}.pullPolicy`),
  };
}

export const httpProbe = (path: string, port: number | string, o: Json = {}): Json => ({
  httpGet: { path, port },
  periodSeconds: 10,
  timeoutSeconds: 3,
  failureThreshold: 3,
  ...o,
});
export const tcpProbe = (port: number | string, o: Json = {}): Json => ({
  tcpSocket: { port },
  periodSeconds: 10,
  timeoutSeconds: 3,
  failureThreshold: 3,
  ...o,
});
export const execProbe = (command: string[], o: Json = {}): Json => ({
  exec: { command },
  periodSeconds: 10,
  timeoutSeconds: 5,
  failureThreshold: 3,
  ...o,
});

/** Small fixed resources for Jobs and helper containers. */
export const smallResources = (): Json => ({
  requests: { cpu: '50m', memory: '64Mi' },
  limits: { memory: '256Mi' },
});

/** The scratch volume a read-only root needs (tsx and tools write to /tmp). */
export const tmpVolume = (): Json => ({ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } });
export const tmpMount = (): Json => ({ name: 'tmp', mountPath: '/tmp' });

/** env var from a Secret key. */
export const secretEnv = (name: string, secret: string, key: string, optional = false): Json => ({
  name,
  valueFrom: { secretKeyRef: { name: secret, key, ...(optional ? { optional: true } : {}) } },
});
export const fieldEnv = (name: string, fieldPath: string): Json => ({
  name,
  valueFrom: { fieldRef: { fieldPath } },
});

/** A volumeClaimTemplate sized from `<path>.size`, with the optional StorageClass. */
export function claim(k: Knobs, name: string, path: string): Json {
  const storageClassName = k.optional(`${path}.storageClass`);
  return {
    metadata: { name },
    spec: {
      accessModes: ['ReadWriteOnce'],
      ...(storageClassName !== undefined ? { storageClassName } : {}),
      resources: { requests: { storage: k.v<string>(`${path}.size`) } },
    },
  };
}

/** Spread a component's pods over `topologyKey`, and prefer one per node. */
export function spread(k: Knobs, component: string, topologyKey: string): Json {
  return {
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey,
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: k.selector(component) },
      },
    ],
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: 'kubernetes.io/hostname',
              labelSelector: { matchLabels: k.selector(component) },
            },
          },
        ],
      },
    },
  };
}

/**
 * JSON the way Go's encoding/json (and so Helm's toJson) writes it: sorted keys, no spaces,
 * <, > and & escaped. Checksums computed here then equal the chart's `toJson | sha256sum`.
 */
export function goJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(goJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.keys(v)
      .sort()
      .map((key) => `${goJson(key)}:${goJson((v as Json)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** `checksum/<name>` of a values subtree, so pods roll when it changes. */
export function checksumOf(k: Knobs, path: string): string {
  const value = path.split('.').reduce<unknown>((v, p) => (v as Json)[p], k.values);
  return checksumOfValue(k, value, `$.Values.${path}`);
}

/** `checksum/<name>` of a value computed from the values: `helm` is the same value as a Helm pipeline. */
export function checksumOfValue(k: Knobs, plain: unknown, helm: string): string {
  const sum = createHash('sha256').update(goJson(plain)).digest('hex');
  return k.expr(sum, `${helm} | toJson | sha256sum`, 'str');
}
