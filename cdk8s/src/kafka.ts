import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import { claim, containerSecurity, fieldEnv, imageOf, tcpProbe, type Json } from './pod.ts';
import { Workload } from './workload.ts';

export const KAFKA_PORT = 9092;
export const CONTROLLER_PORT = 9093;
/** ZooKeeper client ports of the three ensemble members, as in the seed design. */
export const ZOOKEEPER_CLIENT_PORTS = [2181, 2182, 2183] as const;
export const ZOOKEEPER_PEER_PORTS = [2888, 3888] as const;
/** apache/kafka runs as appuser. */
const KAFKA_UID = 1000;
const ZOOKEEPER_UID = 1000;
const CONTROLLER_ID_BASE = 1000;

export interface KafkaProps {
  /**
   * Write the broker's mode-specific settings; both modes appear in the chart, under `kafka.mode`.
   * @default the modes 'kraft' and 'zookeeper'
   */
  readonly modes?: readonly ('kraft' | 'zookeeper')[];
}

/**
 * Kafka as Strimzi-style StatefulSets: stable broker ids from the pod ordinal, a headless Service
 * for per-broker DNS names, a bootstrap Service, per-broker PVCs, a PDB and spreading. KRaft mode
 * (combined broker+controller nodes, or dedicated controllers) by default; ZooKeeper mode runs a
 * 3-node ensemble and pins the 3.9.x broker line, the last that supports ZooKeeper.
 */
export class Kafka extends Construct {
  /** host:port clients bootstrap from. */
  readonly bootstrap: string;

  constructor(scope: Construct, id: string, k: Knobs, props: KafkaProps = {}) {
    super(scope, id);
    const v = k.values.kafka;
    if (!k.helm) {
      if (v.minInsyncReplicas > v.replicationFactor) {
        throw new Error(
          `'kafka.minInsyncReplicas' (${v.minInsyncReplicas}) must not exceed 'kafka.replicationFactor' (${v.replicationFactor})`,
        );
      }
      if (v.replicationFactor > v.replicaCount) {
        throw new Error(
          `'kafka.replicationFactor' (${v.replicationFactor}) must not exceed 'kafka.replicaCount' (${v.replicaCount})`,
        );
      }
    }
    this.bootstrap = `${k.name('kafka')}:${KAFKA_PORT}`;
    const modes = props.modes ?? ['kraft', 'zookeeper'];
    k.choose('kafka.mode', modes, (mode) => (mode === 'kraft' ? this.kraft(k) : this.zookeeperMode(k)));
  }

  private commonEnv(k: Knobs, headless: string): Json[] {
    return [
      fieldEnv('POD_NAME', 'metadata.name'),
      { name: 'HEADLESS', value: headless },
      { name: 'KAFKA_HEAP_OPTS', value: k.v<string>('kafka.heapOpts') },
      { name: 'KAFKA_LOG_DIRS', value: '/var/lib/kafka/data/logs' },
      { name: 'KAFKA_AUTO_CREATE_TOPICS_ENABLE', value: 'false' },
      { name: 'KAFKA_DEFAULT_REPLICATION_FACTOR', value: k.text('kafka.replicationFactor') },
      { name: 'KAFKA_MIN_INSYNC_REPLICAS', value: k.text('kafka.minInsyncReplicas') },
      { name: 'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', value: k.text('kafka.replicationFactor') },
      { name: 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', value: k.text('kafka.replicationFactor') },
      { name: 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR', value: k.text('kafka.minInsyncReplicas') },
      { name: 'KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS', value: '0' },
    ];
  }

  private container(
    k: Knobs,
    name: string,
    env: Json[],
    idExpr: string,
    tagPath: string,
    port: number,
  ): Json {
    return {
      name,
      ...imageOf(k, 'kafka.image', tagPath),
      // The image writes server.properties from the KAFKA_* environment into its own tree.
      command: ['/bin/bash', '-c', `export ${idExpr}\nexec /etc/kafka/docker/run`],
      env,
      ports: [
        { name: 'kafka', containerPort: KAFKA_PORT },
        { name: 'controller', containerPort: CONTROLLER_PORT },
      ],
      resources: k.block('kafka.resources'),
      securityContext: containerSecurity(false),
      startupProbe: tcpProbe(port, { periodSeconds: 5, failureThreshold: 60 }),
      readinessProbe: tcpProbe(port),
      livenessProbe: tcpProbe(port, { failureThreshold: 6 }),
      volumeMounts: [{ name: 'data', mountPath: '/var/lib/kafka/data' }],
    };
  }

  private statefulSet(k: Knobs, id: string, component: string, replicas: number, container: Json): Workload {
    return new Workload(this, id, k, {
      component,
      kind: 'StatefulSet',
      replicas,
      uid: KAFKA_UID,
      containers: [container],
      volumeClaims: [claim(k, 'data', 'kafka.persistence')],
      ports: [
        { name: 'kafka', port: KAFKA_PORT },
        { name: 'controller', port: CONTROLLER_PORT },
      ],
      headless: true,
      clusterService: component === 'kafka',
      placementPath: 'kafka',
      topologyKey: k.v<string>('kafka.topologyKey'),
      terminationGracePeriodSeconds: 60,
    });
  }

  private kraft(k: Knobs): void {
    const v = k.values.kafka;
    const fullname = k.fullname;
    k.define(
      'parley.kafka.voters',
      `
{{- $fullname := include "parley.fullname" . -}}
{{- $voters := list -}}
{{- if gt (int .Values.kafka.controllerReplicaCount) 0 -}}
{{- range $i := until (int .Values.kafka.controllerReplicaCount) -}}
{{- $voters = append $voters (printf "%d@%s-kafka-controller-%d.%s-kafka-controller-headless:${CONTROLLER_PORT}" (add ${CONTROLLER_ID_BASE} $i) $fullname $i $fullname) -}}
{{- end -}}
{{- else -}}
{{- range $i := until (int .Values.kafka.replicaCount) -}}
{{- $voters = append $voters (printf "%d@%s-kafka-%d.%s-kafka-headless:${CONTROLLER_PORT}" $i $fullname $i $fullname) -}}
{{- end -}}
{{- end -}}
{{- join "," $voters -}}`,
    );
    const dedicated = v.controllerReplicaCount > 0;
    const plainVoters = dedicated
      ? Array.from(
          { length: v.controllerReplicaCount },
          (_, i) =>
            `${CONTROLLER_ID_BASE + i}@${fullname}-kafka-controller-${i}.${fullname}-kafka-controller-headless:${CONTROLLER_PORT}`,
        )
      : Array.from(
          { length: v.replicaCount },
          (_, i) => `${i}@${fullname}-kafka-${i}.${fullname}-kafka-headless:${CONTROLLER_PORT}`,
        );
    const voters = k.expr(plainVoters.join(','), 'include "parley.kafka.voters" $', 'str');
    const dedicatedCond = 'gt (int $.Values.kafka.controllerReplicaCount) 0';
    const kraftEnv = [
      { name: 'CLUSTER_ID', value: k.v<string>('kafka.clusterId') },
      { name: 'KAFKA_CONTROLLER_QUORUM_VOTERS', value: voters },
      { name: 'KAFKA_CONTROLLER_LISTENER_NAMES', value: 'CONTROLLER' },
      { name: 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP', value: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT' },
    ];

    const brokerHeadless = k.name('kafka-headless');
    const roles = k.expr(
      dedicated ? 'broker' : 'broker,controller',
      `ternary "broker" "broker,controller" (${dedicatedCond})`,
      'str',
    );
    const listeners = k.expr(
      dedicated
        ? `PLAINTEXT://:${KAFKA_PORT}`
        : `PLAINTEXT://:${KAFKA_PORT},CONTROLLER://:${CONTROLLER_PORT}`,
      `ternary "PLAINTEXT://:${KAFKA_PORT}" "PLAINTEXT://:${KAFKA_PORT},CONTROLLER://:${CONTROLLER_PORT}" (${dedicatedCond})`,
      'str',
    );
    const brokerEnv = [
      ...this.commonEnv(k, brokerHeadless),
      ...kraftEnv,
      { name: 'KAFKA_PROCESS_ROLES', value: roles },
      { name: 'KAFKA_LISTENERS', value: listeners },
      { name: 'KAFKA_ADVERTISED_LISTENERS', value: `PLAINTEXT://$(POD_NAME).$(HEADLESS):${KAFKA_PORT}` },
      { name: 'KAFKA_INTER_BROKER_LISTENER_NAME', value: 'PLAINTEXT' },
    ];
    this.statefulSet(
      k,
      'broker',
      'kafka',
      k.v('kafka.replicaCount'),
      this.container(k, 'kafka', brokerEnv, 'KAFKA_NODE_ID=${HOSTNAME##*-}', 'kafka.image.tag', KAFKA_PORT),
    );

    k.under(dedicatedCond, dedicated, () => {
      const controllerEnv = [
        ...this.commonEnv(k, k.name('kafka-controller-headless')),
        ...kraftEnv,
        { name: 'KAFKA_PROCESS_ROLES', value: 'controller' },
        { name: 'KAFKA_LISTENERS', value: `CONTROLLER://:${CONTROLLER_PORT}` },
        {
          name: 'KAFKA_ADVERTISED_LISTENERS',
          value: `CONTROLLER://$(POD_NAME).$(HEADLESS):${CONTROLLER_PORT}`,
        },
      ];
      this.statefulSet(
        k,
        'controller',
        'kafka-controller',
        k.v('kafka.controllerReplicaCount'),
        this.container(
          k,
          'controller',
          controllerEnv,
          `KAFKA_NODE_ID=$((${CONTROLLER_ID_BASE} + \${HOSTNAME##*-}))`,
          'kafka.image.tag',
          CONTROLLER_PORT,
        ),
      );
    });
  }

  private zookeeperMode(k: Knobs): void {
    const zkHeadless = k.name('zookeeper-headless');
    const members = ZOOKEEPER_CLIENT_PORTS.map((port, i) => ({
      host: `${k.name('zookeeper')}-${i}.${zkHeadless}`,
      port,
    }));
    const zookeeper = new Workload(this, 'zookeeper', k, {
      component: 'zookeeper',
      kind: 'StatefulSet',
      replicas: ZOOKEEPER_CLIENT_PORTS.length,
      uid: ZOOKEEPER_UID,
      containers: [
        {
          name: 'zookeeper',
          ...imageOf(k, 'kafka.zookeeper.image'),
          // Member i listens for clients on 2181+i (the seed design's 2181-2183) and has myid i+1.
          command: [
            '/bin/bash',
            '-c',
            'export ZOO_MY_ID=$((${HOSTNAME##*-} + 1))\nexec /docker-entrypoint.sh zkServer.sh start-foreground',
          ],
          env: [
            {
              name: 'ZOO_SERVERS',
              value: members.map((m, i) => `server.${i + 1}=${m.host}:2888:3888;${m.port}`).join(' '),
            },
            { name: 'ZOO_DATA_DIR', value: '/data' },
            { name: 'ZOO_DATA_LOG_DIR', value: '/data/log' },
            { name: 'ZOO_CONF_DIR', value: '/conf' },
            { name: 'ZOO_ADMINSERVER_ENABLED', value: 'false' },
            { name: 'ZOO_4LW_COMMANDS_WHITELIST', value: 'ruok,srvr,mntr' },
            { name: 'ZOO_STANDALONE_ENABLED', value: 'false' },
          ],
          ports: [
            ...ZOOKEEPER_CLIENT_PORTS.map((p, i) => ({ name: `client-${i}`, containerPort: p })),
            { name: 'peer', containerPort: 2888 },
            { name: 'election', containerPort: 3888 },
          ],
          resources: k.block('kafka.zookeeper.resources'),
          securityContext: containerSecurity(true),
          ...zkProbes(),
          volumeMounts: [
            { name: 'data', mountPath: '/data' },
            { name: 'conf', mountPath: '/conf' },
            { name: 'logs', mountPath: '/logs' },
            { name: 'tmp', mountPath: '/tmp' },
          ],
        },
      ],
      volumes: [
        { name: 'conf', emptyDir: {} },
        { name: 'logs', emptyDir: {} },
        { name: 'tmp', emptyDir: {} },
      ],
      volumeClaims: [claim(k, 'data', 'kafka.zookeeper.persistence')],
      ports: [
        ...ZOOKEEPER_CLIENT_PORTS.map((p, i) => ({ name: `client-${i}`, port: p })),
        { name: 'peer', port: 2888 },
        { name: 'election', port: 3888 },
      ],
      headless: true,
      clusterService: false,
      placementPath: 'kafka',
      topologyKey: k.v<string>('kafka.topologyKey'),
    });
    void zookeeper;

    const env = [
      ...this.commonEnv(k, k.name('kafka-headless')),
      { name: 'KAFKA_ZOOKEEPER_CONNECT', value: members.map((m) => `${m.host}:${m.port}`).join(',') },
      { name: 'KAFKA_LISTENERS', value: `PLAINTEXT://:${KAFKA_PORT}` },
      { name: 'KAFKA_ADVERTISED_LISTENERS', value: `PLAINTEXT://$(POD_NAME).$(HEADLESS):${KAFKA_PORT}` },
      { name: 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP', value: 'PLAINTEXT:PLAINTEXT' },
      { name: 'KAFKA_INTER_BROKER_LISTENER_NAME', value: 'PLAINTEXT' },
    ];
    this.statefulSet(
      k,
      'zk-broker',
      'kafka',
      k.v('kafka.replicaCount'),
      this.container(
        k,
        'kafka',
        env,
        'KAFKA_BROKER_ID=${HOSTNAME##*-}',
        'kafka.zookeeperModeImageTag',
        KAFKA_PORT,
      ),
    );
  }
}

/** ZooKeeper's client port differs per member, so probes open it from the ordinal. */
function zkProbes(): Json {
  const probe = (o: Json = {}): Json => ({
    exec: { command: ['/bin/bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/$((2181 + ${HOSTNAME##*-}))'] },
    periodSeconds: 10,
    timeoutSeconds: 3,
    failureThreshold: 3,
    ...o,
  });
  return {
    startupProbe: probe({ periodSeconds: 5, failureThreshold: 60 }),
    readinessProbe: probe(),
    livenessProbe: probe({ failureThreshold: 6 }),
  };
}
