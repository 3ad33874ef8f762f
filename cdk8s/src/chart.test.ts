import { readFileSync } from 'node:fs';
import { App } from 'cdk8s';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { ParleyChart } from './parley-chart.ts';
import { synthPlain } from './main.ts';
import { defaultValues, type ParleyValues } from './values/parley.ts';
import { CI_VALUES, PROFILES } from './values/profiles.ts';
import { mergeValues } from './values/spec.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const valueSets: Record<string, ParleyValues> = Object.fromEntries([
  ['defaults', defaultValues()],
  ...Object.entries({ ...PROFILES, ...CI_VALUES }).map(([name, v]) => [
    name,
    mergeValues(defaultValues(), v),
  ]),
]);

function synth(values: ParleyValues): Json[] {
  return parseAllDocuments(synthPlain(values))
    .map((d) => d.toJS() as Json)
    .filter(Boolean);
}

/** Pod templates (kind/name → pod spec and labels) of every workload. */
function pods(docs: Json[]): { id: string; labels: Record<string, string>; spec: Json; job: boolean }[] {
  return docs.flatMap((d) => {
    const t =
      d.kind === 'Job'
        ? d.spec.template
        : ['Deployment', 'StatefulSet', 'DaemonSet'].includes(d.kind)
          ? d.spec.template
          : null;
    return t
      ? [
          {
            id: `${d.kind}/${d.metadata.name}`,
            labels: t.metadata.labels,
            spec: t.spec,
            job: d.kind === 'Job',
          },
        ]
      : [];
  });
}

const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

const containersOf = (spec: Json): Json[] => [...(spec.initContainers ?? []), ...spec.containers];

for (const [name, values] of Object.entries(valueSets)) {
  describe(`cdk8s app with ${name}`, () => {
    const docs = synth(values);
    const workloads = pods(docs);

    it('runs every pod under Pod Security "restricted"', () => {
      expect(workloads).to.have.length.above(0);
      for (const { id, spec } of workloads) {
        const pod = spec.securityContext ?? {};
        expect(pod.runAsNonRoot, `${id} runAsNonRoot`).to.equal(true);
        expect(pod.runAsUser, `${id} runAsUser`).to.be.above(0);
        expect(pod.seccompProfile?.type, `${id} seccomp`).to.equal('RuntimeDefault');
        for (const flag of ['hostNetwork', 'hostPID', 'hostIPC'])
          expect(spec[flag], `${id} ${flag}`).to.not.equal(true);
        for (const v of spec.volumes ?? [])
          expect(v.hostPath, `${id} hostPath volume ${v.name}`).to.equal(undefined);
        for (const c of containersOf(spec)) {
          const sc = c.securityContext ?? {};
          const where = `${id} container ${c.name}`;
          expect(sc.allowPrivilegeEscalation, `${where} allowPrivilegeEscalation`).to.equal(false);
          expect(sc.privileged, `${where} privileged`).to.not.equal(true);
          expect(sc.capabilities?.drop, `${where} drops ALL`).to.deep.equal(['ALL']);
          expect(sc.capabilities?.add, `${where} adds capabilities`).to.equal(undefined);
          expect(sc.runAsNonRoot, `${where} runAsNonRoot`).to.equal(true);
          for (const p of c.ports ?? []) expect(p.hostPort, `${where} hostPort`).to.equal(undefined);
        }
      }
    });

    it('keeps the root filesystem read-only except for the Kafka images, which write their config', () => {
      for (const { id, spec } of workloads) {
        for (const c of containersOf(spec)) {
          const writable = c.securityContext.readOnlyRootFilesystem !== true;
          // apache/kafka, or an image honouring its contract (values-local.yaml's parley-infra/kafka).
          expect(writable, `${id} ${c.name}`).to.equal(/(^|\/)kafka:/.test(c.image));
        }
      }
    });

    it('gives every container resources, and every long-running container readiness and liveness probes', () => {
      for (const { id, spec, job } of workloads) {
        for (const c of containersOf(spec)) {
          const where = `${id} container ${c.name}`;
          expect(c.resources?.requests?.cpu, `${where} cpu request`).to.be.a('string');
          expect(c.resources?.requests?.memory, `${where} memory request`).to.be.a('string');
          expect(c.resources?.limits?.memory, `${where} memory limit`).to.be.a('string');
        }
        if (job) continue;
        for (const c of spec.containers) {
          expect(c.readinessProbe, `${id} ${c.name} readinessProbe`).to.be.an('object');
          expect(c.livenessProbe, `${id} ${c.name} livenessProbe`).to.be.an('object');
        }
      }
    });

    it('pins every image to a tag other than latest', () => {
      for (const { id, spec } of workloads) {
        for (const c of containersOf(spec)) {
          expect(c.image, `${id} ${c.name}`).to.match(
            /^[^:@]+:[A-Za-z0-9_][A-Za-z0-9_.-]*(@sha256:[a-f0-9]{64})?$/,
          );
          expect(c.image, `${id} ${c.name}`).to.not.match(/:latest$/);
        }
      }
    });

    it('has every Service select pods, on ports the pods expose', () => {
      for (const svc of docs.filter((d) => d.kind === 'Service')) {
        const matching = workloads.filter((p) => selects(svc.spec.selector, p.labels));
        expect(matching, `Service ${svc.metadata.name} selects no pods`).to.have.length.above(0);
        const exposed = matching.flatMap((p) =>
          p.spec.containers.flatMap((c: Json) => (c.ports ?? []).map((x: Json) => x.containerPort)),
        );
        for (const port of svc.spec.ports) {
          expect(exposed, `Service ${svc.metadata.name} port ${port.targetPort}`).to.include(port.targetPort);
        }
      }
    });

    it('allows in every NetworkPolicy only ports that selected pods really listen on', () => {
      const portsOf = (selector: Record<string, string>) =>
        workloads
          .filter((p) => selects(selector, p.labels))
          .flatMap((p) =>
            p.spec.containers.flatMap((c: Json) =>
              (c.ports ?? []).map((x: Json) => x.containerPort as number),
            ),
          );
      const covered = (listening: number[], rule: Json) =>
        listening.some((p) => p >= rule.port && p <= (rule.endPort ?? rule.port));
      for (const np of docs.filter((d) => d.kind === 'NetworkPolicy')) {
        const id = `NetworkPolicy ${np.metadata.name}`;
        for (const rule of np.spec.ingress ?? []) {
          const listening = portsOf(np.spec.podSelector.matchLabels);
          expect(listening, `${id} selects no pods with ports`).to.have.length.above(0);
          for (const p of rule.ports)
            expect(covered(listening, p), `${id} ingress port ${p.port}`).to.equal(true);
        }
        for (const rule of np.spec.egress ?? []) {
          for (const peer of rule.to) {
            if (!peer.podSelector || peer.namespaceSelector) continue; // DNS, API server, other namespaces
            const listening = portsOf(peer.podSelector.matchLabels);
            expect(listening, `${id} egress peer selects no pods`).to.have.length.above(0);
            for (const p of rule.ports)
              expect(covered(listening, p), `${id} egress port ${p.port}`).to.equal(true);
          }
        }
      }
    });

    it('refers only to Secrets the chart generates or the user names, and to ConfigMaps it creates', () => {
      const generator = docs.find(
        (d) => d.kind === 'Job' && d.metadata.labels['app.kubernetes.io/component'] === 'secrets',
      );
      const env = generator!.spec.template.spec.containers[0].env.find(
        (e: Json) => e.name === 'SECRETS',
      ).value;
      const generated = new Map<string, string[]>(
        (JSON.parse(env) as { name: string; keys: Record<string, string> }[])
          .filter((s) => s.name)
          .map((s) => [s.name, Object.keys(s.keys)]),
      );
      const supplied = [
        values.auth.jwt.existingSecret,
        values.redis.auth.existingSecret,
        values.mongodb.auth.existingSecret,
        values.message.notifier.keys.existingSecret,
        values.message.media.s3.existingSecret,
      ].filter(Boolean);
      const configMaps = new Set(docs.filter((d) => d.kind === 'ConfigMap').map((d) => d.metadata.name));
      for (const { id, spec } of workloads) {
        for (const c of containersOf(spec)) {
          for (const e of c.env ?? []) {
            const ref = e.valueFrom?.secretKeyRef;
            if (!ref || ref.optional) continue;
            if (supplied.includes(ref.name)) continue;
            expect(generated.get(ref.name), `${id} ${c.name} env ${e.name}: Secret ${ref.name}`).to.include(
              ref.key,
            );
          }
          for (const from of c.envFrom ?? [])
            expect(configMaps, `${id} envFrom`).to.include(from.configMapRef.name);
        }
        for (const v of spec.volumes ?? []) {
          if (v.secret && !v.secret.optional && !supplied.includes(v.secret.secretName)) {
            for (const item of v.secret.items)
              expect(generated.get(v.secret.secretName), `${id} volume ${v.name}`).to.include(item.key);
          }
          if (v.configMap) expect(configMaps, `${id} volume ${v.name}`).to.include(v.configMap.name);
        }
      }
    });

    it('covers every StatefulSet and every multi-replica Deployment with a PodDisruptionBudget', () => {
      const pdbs = docs.filter((d) => d.kind === 'PodDisruptionBudget');
      for (const d of docs.filter(
        (x) => x.kind === 'StatefulSet' || (x.kind === 'Deployment' && x.spec.replicas > 1),
      )) {
        const labels = d.spec.template.metadata.labels;
        expect(
          pdbs.some((p) => selects(p.spec.selector.matchLabels, labels)),
          `${d.kind}/${d.metadata.name} has no PDB`,
        ).to.equal(true);
      }
    });

    it('gives each component its own ServiceAccount, with a token only for API clients', () => {
      for (const { id, spec } of workloads) {
        expect(spec.serviceAccountName, id).to.be.a('string');
        const apiClient = /-(operator|secrets)(-r\d+)?$/.test(id.split('/')[1]!);
        expect(spec.automountServiceAccountToken, id).to.equal(apiClient);
      }
      const names = workloads.filter((w) => !w.job).map((w) => w.spec.serviceAccountName);
      expect(new Set(names).size, 'ServiceAccounts shared between components').to.equal(names.length);
    });
  });
}

describe('cdk8s app details', () => {
  const docs = synth(defaultValues());
  const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;

  it('grants the operator exactly the rules from operators/src/crds.ts, in its namespace only', async () => {
    const { operatorRbacRules } = await import('@parley/operators/crds');
    expect(find('Role', 'parley-operator').rules).to.deep.equal(operatorRbacRules);
    expect(docs.some((d) => d.kind === 'ClusterRole' || d.kind === 'ClusterRoleBinding')).to.equal(false);
  });

  it('creates the five topics with the seed production sizes and the worker autoscaler', () => {
    const topics = docs
      .filter((d) => d.kind === 'Topic')
      .map((d) => [d.spec.topicName, d.spec.partitions, d.spec.replicationFactor]);
    expect(topics).to.deep.equal([
      ['chat.messages', 128, 3],
      ['chat.events', 128, 3],
      ['chat.messages.dlq', 3, 3],
      ['chat.events.notify.dlq', 3, 3],
      ['user.events', 3, 3],
    ]);
    const autoscaler = find('ConsumerAutoscaler', 'parley-message-worker');
    expect(autoscaler.spec).to.include({ consumerGroup: 'message-worker' });
    expect(autoscaler.spec.scaleTargetRef.name).to.equal(
      find('Deployment', 'parley-message-worker').metadata.name,
    );
  });

  it('runs Kafka in KRaft mode with three combined nodes as voters', () => {
    const env = Object.fromEntries(
      find('StatefulSet', 'parley-kafka').spec.template.spec.containers[0].env.map((e: Json) => [
        e.name,
        e.value,
      ]),
    );
    expect(env.KAFKA_PROCESS_ROLES).to.equal('broker,controller');
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).to.equal(
      '0@parley-kafka-0.parley-kafka-headless:9093,1@parley-kafka-1.parley-kafka-headless:9093,2@parley-kafka-2.parley-kafka-headless:9093',
    );
    expect(env.KAFKA_MIN_INSYNC_REPLICAS).to.equal('2');
    expect(docs.some((d) => d.metadata.name === 'parley-zookeeper')).to.equal(false);
  });

  it('in ZooKeeper mode runs a 3-node ensemble on 2181-2183 and pins Kafka 3.9.x', () => {
    const zk = synth(mergeValues(defaultValues(), { kafka: { mode: 'zookeeper' } }));
    const kafka = zk.find((d) => d.kind === 'StatefulSet' && d.metadata.name === 'parley-kafka')!;
    const container = kafka.spec.template.spec.containers[0];
    expect(container.image).to.match(/^apache\/kafka:3\.9\.\d+$/);
    const connect = container.env.find((e: Json) => e.name === 'KAFKA_ZOOKEEPER_CONNECT').value;
    expect(connect).to.equal(
      'parley-zookeeper-0.parley-zookeeper-headless:2181,parley-zookeeper-1.parley-zookeeper-headless:2182,parley-zookeeper-2.parley-zookeeper-headless:2183',
    );
    expect(
      zk.find((d) => d.kind === 'StatefulSet' && d.metadata.name === 'parley-zookeeper')!.spec.replicas,
    ).to.equal(3);
  });

  it('routes REST and /v1/ws through one ingress-nginx Ingress with socket-length timeouts', () => {
    const ingress = find('Ingress', 'parley');
    expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']).to.equal('3600');
    const paths = ingress.spec.rules[0].http.paths.map((p: Json) => `${p.path}=${p.backend.service.name}`);
    expect(paths).to.include.members([
      '/v1/auth=parley-auth',
      '/=parley-message-api',
      '/v1/users/me/stars=parley-message-api',
    ]);
  });

  it('keeps /readyz, /metrics and /version off the Ingress: probes and scrapes use the management port', () => {
    const ingress = find('Ingress', 'parley');
    const backends = ingress.spec.rules[0].http.paths.map((p: Json) => p.backend.service.port);
    expect(backends.every((port: Json) => port.number === 8080 && port.name === undefined)).to.equal(true);
    for (const app of ['auth', 'message-api', 'message-worker']) {
      const container = find('Deployment', `parley-${app}`).spec.template.spec.containers[0];
      const env = Object.fromEntries(container.env.map((e: Json) => [e.name, e.value]));
      expect(env, app).to.include({ PORT: '8080', MANAGEMENT_PORT: '9090' });
      expect(container.readinessProbe.httpGet).to.deep.equal({ path: '/readyz', port: 'management' });
      expect(container.livenessProbe.httpGet.port).to.equal('management');
      const service = find('Service', `parley-${app}`);
      expect(service.spec.ports.map((p: Json) => `${p.name}:${p.port}`)).to.deep.equal([
        'http:8080',
        'management:9090',
      ]);
    }
    const monitors = synth(
      mergeValues(defaultValues(), { metrics: { enabled: true, serviceMonitor: true } }),
    ).filter((d) => d.kind === 'ServiceMonitor');
    const portOf = (name: string) =>
      monitors.find((m) => m.metadata.name === name)!.spec.endpoints[0].port as string;
    expect(portOf('parley-auth')).to.equal('management');
    expect(portOf('parley-message-api')).to.equal('management');
    expect(portOf('parley-operator')).to.equal('management');
  });

  it('gives the services a termination grace period longer than their drain', () => {
    const auth = find('Deployment', 'parley-auth').spec.template.spec;
    const drainMs = Number(auth.containers[0].env.find((e: Json) => e.name === 'SHUTDOWN_TIMEOUT_MS').value);
    expect(auth.terminationGracePeriodSeconds * 1000).to.be.above(drainMs + 5000);
  });

  it('matches the committed plain manifests (snapshot: charts/manifests/parley.yaml)', () => {
    const committed = readFileSync(new URL('../../charts/manifests/parley.yaml', import.meta.url), 'utf8');
    expect(committed.replace(/^#.*\n/, '')).to.equal(synthPlain(defaultValues()));
  });
});

describe('cdk8s invariants', () => {
  const cases: [string, unknown, string][] = [
    [
      'minInsyncReplicas above the replication factor',
      { kafka: { minInsyncReplicas: 4 } },
      "'kafka.minInsyncReplicas' (4) must not exceed 'kafka.replicationFactor' (3)",
    ],
    [
      'replication factor above the brokers',
      { kafka: { replicaCount: 2 } },
      "'kafka.replicationFactor' (3) must not exceed 'kafka.replicaCount' (2)",
    ],
    [
      'Redis nodes not a multiple of a master and its replicas',
      { redis: { nodes: 7 } },
      "'redis.nodes' (7) must be a multiple of 1 + 'redis.replicasPerMaster' (2)",
    ],
    [
      'fewer than three Redis masters',
      { redis: { nodes: 4 } },
      "'redis.nodes' (4) must give at least 3 masters with 'redis.replicasPerMaster' (1)",
    ],
    [
      'an even MongoDB replica set',
      { mongodb: { replicaCount: 2 } },
      "'mongodb.replicaCount' (2) must be odd so that a majority can elect a primary",
    ],
    [
      'several media replicas on the disk store',
      { message: { media: { replicaCount: 2 } } },
      "'message.media.replicaCount' (2) must be 1 without 'message.media.s3.bucket'",
    ],
    [
      'an S3 bucket without credentials',
      { message: { media: { s3: { bucket: 'b' } } } },
      "'message.media.s3.bucket' (b) needs the credentials in 'message.media.s3.existingSecret'",
    ],
  ];
  for (const [what, overlay, message] of cases) {
    it(`rejects ${what}`, () => {
      expect(
        () => new ParleyChart(new App(), 'p', { values: mergeValues(defaultValues(), overlay) }),
      ).to.throw(message);
    });
  }
  it('rejects a release name that is not a DNS label', () => {
    expect(
      () => new ParleyChart(new App(), 'p', { values: defaultValues(), releaseName: 'Parley_1' }),
    ).to.throw("'releaseName' (Parley_1) must be a DNS label of at most 53 characters");
  });
});
