import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import {
  claim,
  containerSecurity,
  execProbe,
  fieldEnv,
  imageOf,
  secretEnv,
  tmpMount,
  tmpVolume,
} from './pod.ts';
import { script } from './scripts.ts';
import { ScriptJob } from './script-job.ts';
import { Workload } from './workload.ts';

export const REDIS_PORT = 6379;
export const REDIS_BUS_PORT = 16379;
/** The redis image's `redis` user. */
const REDIS_UID = 999;

export interface RedisClusterProps {
  /** Secret with key `redis-password`. */
  readonly passwordSecret: string;
}

/**
 * Redis Cluster: one StatefulSet of `redis.nodes` nodes (masters and their replicas) with
 * persistence (AOF) and a memory policy, and a Job that forms the cluster idempotently.
 */
export class RedisCluster extends Construct {
  /** Seed host:port for clients (every node answers with the cluster's layout). */
  readonly seeds: string;

  constructor(scope: Construct, id: string, k: Knobs, props: RedisClusterProps) {
    super(scope, id);
    const v = k.values.redis;
    if (!k.helm && v.nodes % (1 + v.replicasPerMaster) !== 0) {
      throw new Error(
        `'redis.nodes' (${v.nodes}) must be a multiple of 1 + 'redis.replicasPerMaster' (${1 + v.replicasPerMaster})`,
      );
    }
    if (!k.helm && v.nodes / (1 + v.replicasPerMaster) < 3) {
      throw new Error(
        `'redis.nodes' (${v.nodes}) must give at least 3 masters with 'redis.replicasPerMaster' (${v.replicasPerMaster})`,
      );
    }
    const headless = k.name('redis-headless');
    const password = secretEnv('REDIS_PASSWORD', props.passwordSecret, 'redis-password');
    const ping = execProbe([
      '/bin/sh',
      '-c',
      'redis-cli -a "$REDIS_PASSWORD" --no-auth-warning ping | grep -q PONG',
    ]);
    const redis = new Workload(this, 'redis', k, {
      component: 'redis',
      kind: 'StatefulSet',
      replicas: k.v('redis.nodes'),
      uid: REDIS_UID,
      containers: [
        {
          name: 'redis',
          ...imageOf(k, 'redis.image'),
          command: ['/bin/bash', '/scripts/redis-start.sh'],
          env: [
            fieldEnv('POD_NAME', 'metadata.name'),
            { name: 'HEADLESS', value: headless },
            { name: 'MAXMEMORY', value: k.v<string>('redis.maxmemory') },
            { name: 'MAXMEMORY_POLICY', value: k.v<string>('redis.maxmemoryPolicy') },
            password,
          ],
          ports: [
            { name: 'redis', containerPort: REDIS_PORT },
            { name: 'bus', containerPort: REDIS_BUS_PORT },
          ],
          resources: k.block('redis.resources'),
          securityContext: containerSecurity(true),
          startupProbe: { ...ping, periodSeconds: 5, failureThreshold: 30 },
          readinessProbe: ping,
          livenessProbe: { ...ping, failureThreshold: 6 },
          volumeMounts: [
            { name: 'data', mountPath: '/data' },
            { name: 'scripts', mountPath: '/scripts', readOnly: true },
            tmpMount(),
          ],
        },
      ],
      volumes: [
        { name: 'scripts', configMap: { name: k.name('redis-scripts'), defaultMode: 0o555 } },
        tmpVolume(),
      ],
      volumeClaims: [claim(k, 'data', 'redis.persistence')],
      ports: [
        { name: 'redis', port: REDIS_PORT },
        { name: 'bus', port: REDIS_BUS_PORT },
      ],
      headless: true,
      clusterService: false,
      placementPath: 'redis',
    });
    k.emit(this, 'scripts', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: k.meta(k.name('redis-scripts'), 'redis'),
      data: { 'redis-start.sh': script('redis-start.sh') },
    });
    this.seeds = `${redis.headlessName}:${REDIS_PORT}`;

    new ScriptJob(this, 'init', k, {
      component: 'redis-cluster-init',
      image: imageOf(k, 'redis.image'),
      uid: REDIS_UID,
      scripts: { 'redis-cluster-init.sh': script('redis-cluster-init.sh') },
      command: ['/bin/bash', '/scripts/redis-cluster-init.sh'],
      env: [
        { name: 'STS', value: redis.name },
        { name: 'HEADLESS', value: headless },
        { name: 'NODES', value: k.text('redis.nodes') },
        { name: 'REPLICAS', value: k.text('redis.replicasPerMaster') },
        password,
      ],
    });
  }
}
