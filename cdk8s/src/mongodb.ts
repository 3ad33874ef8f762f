import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import {
  claim,
  containerSecurity,
  execProbe,
  imageOf,
  secretEnv,
  smallResources,
  tmpMount,
  tmpVolume,
} from './pod.ts';
import { script } from './scripts.ts';
import { ScriptJob } from './script-job.ts';
import { Workload } from './workload.ts';

export const MONGODB_PORT = 27017;
/** The mongo image's `mongodb` user. */
const MONGODB_UID = 999;

export interface MongoDbProps {
  /** Secret with root-password, parley-password, metrics-password and keyfile. */
  readonly secret: string;
}

/**
 * A MongoDB replica set with keyfile internal auth: the keyfile and root credentials come from a
 * Secret; an init Job initiates the set (or adds missing members) and creates the application
 * and metrics users.
 */
export class MongoDb extends Construct {
  /** host:port of every member, comma-separated (a connection string's host list). */
  readonly hosts: string;
  /**
   * One seed host:port for clients: the headless Service, whose DNS name resolves to every
   * member; the driver then discovers the set. (The services parse MONGO_URL with the WHATWG URL
   * parser, which refuses a comma-separated host list.)
   */
  readonly seed: string;

  constructor(scope: Construct, id: string, k: Knobs, props: MongoDbProps) {
    super(scope, id);
    const v = k.values.mongodb;
    if (!k.helm && v.replicaCount % 2 === 0) {
      throw new Error(
        `'mongodb.replicaCount' (${v.replicaCount}) must be odd so that a majority can elect a primary`,
      );
    }
    const sts = k.name('mongodb');
    const headless = k.name('mongodb-headless');
    this.seed = `${headless}:${MONGODB_PORT}`;
    k.define(
      'parley.mongodb.hosts',
      `
{{- $fullname := include "parley.fullname" . -}}
{{- $hosts := list -}}
{{- range $i := until (int .Values.mongodb.replicaCount) -}}
{{- $hosts = append $hosts (printf "%s-mongodb-%d.%s-mongodb-headless:${MONGODB_PORT}" $fullname $i $fullname) -}}
{{- end -}}
{{- join "," $hosts -}}`,
    );
    this.hosts = k.expr(
      Array.from(
        { length: v.replicaCount },
        (_, i) => `${k.fullname}-mongodb-${i}.${k.fullname}-mongodb-headless:${MONGODB_PORT}`,
      ).join(','),
      'include "parley.mongodb.hosts" $',
      'str',
    );
    const ping = execProbe(['mongosh', '--quiet', '--eval', "db.adminCommand('ping').ok"], {
      timeoutSeconds: 10,
    });

    new Workload(this, 'mongodb', k, {
      component: 'mongodb',
      kind: 'StatefulSet',
      replicas: k.v('mongodb.replicaCount'),
      uid: MONGODB_UID,
      initContainers: [
        {
          // mongod refuses a keyfile readable by others; a Secret volume with fsGroup is 0440.
          name: 'keyfile',
          ...imageOf(k, 'mongodb.image'),
          command: [
            '/bin/sh',
            '-c',
            'rm -f /keyfile/keyfile && cp /secret/keyfile /keyfile/keyfile && chmod 0400 /keyfile/keyfile',
          ],
          resources: smallResources(),
          securityContext: containerSecurity(true),
          volumeMounts: [
            { name: 'secret', mountPath: '/secret', readOnly: true },
            { name: 'keyfile', mountPath: '/keyfile' },
          ],
        },
      ],
      containers: [
        {
          name: 'mongodb',
          ...imageOf(k, 'mongodb.image'),
          args: [
            'mongod',
            '--replSet',
            k.v<string>('mongodb.replicaSetName'),
            '--keyFile',
            '/keyfile/keyfile',
            '--bind_ip_all',
          ],
          env: [
            { name: 'MONGO_INITDB_ROOT_USERNAME', value: 'root' },
            secretEnv('MONGO_INITDB_ROOT_PASSWORD', props.secret, 'root-password'),
          ],
          ports: [{ name: 'mongodb', containerPort: MONGODB_PORT }],
          resources: k.block('mongodb.resources'),
          securityContext: containerSecurity(true),
          startupProbe: { ...ping, periodSeconds: 5, failureThreshold: 60 },
          readinessProbe: ping,
          livenessProbe: { ...ping, failureThreshold: 6 },
          volumeMounts: [
            { name: 'data', mountPath: '/data/db' },
            { name: 'configdb', mountPath: '/data/configdb' },
            { name: 'keyfile', mountPath: '/keyfile', readOnly: true },
            tmpMount(),
          ],
        },
      ],
      volumes: [
        {
          name: 'secret',
          secret: { secretName: props.secret, items: [{ key: 'keyfile', path: 'keyfile' }] },
        },
        { name: 'keyfile', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
        { name: 'configdb', emptyDir: {} },
        tmpVolume(),
      ],
      volumeClaims: [claim(k, 'data', 'mongodb.persistence')],
      ports: [{ name: 'mongodb', port: MONGODB_PORT }],
      headless: true,
      clusterService: false,
      placementPath: 'mongodb',
      terminationGracePeriodSeconds: 60,
    });

    new ScriptJob(this, 'init', k, {
      component: 'mongodb-init',
      image: imageOf(k, 'mongodb.image'),
      uid: MONGODB_UID,
      scripts: { 'mongodb-init.js': script('mongodb-init.js') },
      command: [
        '/bin/bash',
        '-c',
        'exec mongosh "mongodb://root:${ROOT_PASSWORD}@${FIRST}/admin?directConnection=true" --quiet --file /scripts/mongodb-init.js',
      ],
      env: [
        { name: 'FIRST', value: `${sts}-0.${headless}:${MONGODB_PORT}` },
        { name: 'MEMBERS', value: this.hosts },
        { name: 'REPLICA_SET', value: k.v<string>('mongodb.replicaSetName') },
        { name: 'DATABASE', value: k.v<string>('mongodb.database') },
        secretEnv('ROOT_PASSWORD', props.secret, 'root-password'),
        secretEnv('PARLEY_PASSWORD', props.secret, 'parley-password'),
        secretEnv('METRICS_PASSWORD', props.secret, 'metrics-password'),
      ],
    });
  }
}
