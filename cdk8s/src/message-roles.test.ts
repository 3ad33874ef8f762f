import { expect } from 'chai';
import { environment, synthDocs, type Json } from './testkit.ts';
import { defaultValues, parleyValuesSpec } from './values/parley.ts';
import { leaves, mergeValues } from './values/spec.ts';

const synth = (overlay: unknown = {}) => synthDocs(mergeValues(defaultValues(), overlay));
const find = (docs: Json[], kind: string, name: string) =>
  docs.find((d) => d.kind === kind && d.metadata.name === name);
const container = (docs: Json[], name: string) =>
  find(docs, 'Deployment', name)!.spec.template.spec.containers[0];
const policies = (docs: Json[], component: string) =>
  docs.filter(
    (d) =>
      d.kind === 'NetworkPolicy' &&
      d.spec.podSelector.matchLabels?.['app.kubernetes.io/component'] === component,
  );
/** Each egress rule of a component as `<peer>:<ports>`, the peer a component, `internet` or `dns`. */
const egress = (docs: Json[], component: string): string[] =>
  policies(docs, component)
    .flatMap((p) => p.spec.egress ?? [])
    .map((rule: Json) => {
      const to = rule.to[0];
      const peer = to.ipBlock
        ? 'internet'
        : (to.podSelector?.matchLabels?.['app.kubernetes.io/component'] ??
          to.podSelector?.matchLabels?.['k8s-app']);
      return `${peer}:${rule.ports.map((p: Json) => p.port).join(',')}`;
    })
    .sort();
const ingressFrom = (docs: Json[], component: string): string[] =>
  policies(docs, component)
    .flatMap((p) => p.spec.ingress ?? [])
    .map((rule: Json) => {
      const from = rule.from[0];
      const peer =
        from.podSelector?.matchLabels?.['app.kubernetes.io/component'] ??
        from.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'];
      return `${peer}:${rule.ports.map((p: Json) => p.port).join(',')}`;
    })
    .sort();

describe('message media and notifier roles', () => {
  const docs = synth();

  for (const [name, role] of [
    ['parley-message-media', 'media'],
    ['parley-message-notifier', 'notifier'],
  ] as const) {
    it(`runs the ${role} role read-only, non-root, probed and scraped on the management port`, () => {
      const c = container(docs, name);
      expect(environment(docs, name).ROLE).to.equal(role);
      expect(c.securityContext).to.include({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      expect(c.securityContext.capabilities.drop).to.deep.equal(['ALL']);
      expect(c.livenessProbe.httpGet).to.deep.equal({ path: '/healthz', port: 'management' });
      expect(c.readinessProbe.httpGet).to.deep.equal({ path: '/readyz', port: 'management' });
      expect(c.volumeMounts).to.deep.include({ name: 'tmp', mountPath: '/tmp' });
      expect(find(docs, 'PodDisruptionBudget', name)!.spec.maxUnavailable).to.equal(1);
      const scraped = synth({ metrics: { serviceMonitor: true } });
      const monitor = find(scraped, 'ServiceMonitor', name)!;
      expect(monitor.spec.endpoints[0]).to.include({ port: 'management', path: '/metrics' });
    });
  }

  it('keeps attachments on a kept PVC with one Recreate replica when no bucket is set', () => {
    const d = find(docs, 'Deployment', 'parley-message-media')!;
    expect(d.spec.replicas).to.equal(1);
    expect(d.spec.strategy).to.deep.equal({ type: 'Recreate' });
    expect(d.spec.template.spec.volumes).to.deep.include({
      name: 'media',
      persistentVolumeClaim: { claimName: 'parley-message-media' },
    });
    const pvc = find(docs, 'PersistentVolumeClaim', 'parley-message-media')!;
    expect(pvc.metadata.annotations['helm.sh/resource-policy']).to.equal('keep');
    expect(pvc.spec.resources.requests.storage).to.equal('10Gi');
    const env = environment(docs, 'parley-message-media');
    expect(env.MEDIA_DIR).to.equal('/var/lib/parley/media');
    expect(env.S3_BUCKET).to.equal(undefined);
    expect(egress(docs, 'message-media')).to.not.include('internet:443');
  });

  it('stores attachments in S3 with credentials from the named Secret, on any number of replicas', () => {
    const s3 = synth({
      message: {
        media: {
          replicaCount: 3,
          maxUploadBytes: 1048576,
          s3: { bucket: 'b', endpoint: 'http://minio:9000', port: 9000, existingSecret: 'creds' },
        },
      },
    });
    const d = find(s3, 'Deployment', 'parley-message-media')!;
    expect(d.spec.replicas).to.equal(3);
    expect(d.spec.strategy.type).to.equal('RollingUpdate');
    expect(find(s3, 'PersistentVolumeClaim', 'parley-message-media')).to.equal(undefined);
    const env = environment(s3, 'parley-message-media');
    expect(env).to.include({
      S3_BUCKET: 'b',
      S3_ENDPOINT: 'http://minio:9000',
      S3_FORCE_PATH_STYLE: 'true',
      MEDIA_MAX_UPLOAD_BYTES: '1048576',
    });
    const refs = container(s3, 'parley-message-media')
      .env.filter((e: Json) => e.name.startsWith('S3_') && e.valueFrom)
      .map((e: Json) => `${e.name}=${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`);
    expect(refs).to.deep.equal([
      'S3_ACCESS_KEY_ID=creds/access-key-id',
      'S3_SECRET_ACCESS_KEY=creds/secret-access-key',
    ]);
    expect(egress(s3, 'message-media')).to.include('internet:9000');
  });

  it('lets only the ingress controller and Prometheus in to the media role', () => {
    const all = synth({ metrics: { enabled: true } });
    expect(ingressFrom(all, 'message-media')).to.deep.equal(['ingress-nginx:8080', 'monitoring:9090']);
    expect(egress(all, 'message-media')).to.deep.equal([
      'auth:8080',
      'kafka:9092',
      'mongodb:27017',
      'redis:6379',
    ]);
  });

  it('lets nothing but Prometheus in to the notifier, and out to the stores, SMTP and HTTPS', () => {
    const withSmtp = synth({
      metrics: { enabled: true },
      message: { notifier: { smtp: { host: 'smtp.example.com', port: 2525 } } },
    });
    expect(ingressFrom(withSmtp, 'message-notifier')).to.deep.equal(['monitoring:9090']);
    expect(egress(withSmtp, 'message-notifier')).to.deep.equal([
      'internet:2525',
      'internet:443',
      'kafka:9092',
      'mongodb:27017',
      'redis:6379',
    ]);
    expect(egress(docs, 'message-notifier')).to.not.include('internet:587');
  });

  it('routes /v1/media to the media role with its own body size, and notifications to the api', () => {
    const media = find(docs, 'Ingress', 'parley-media')!;
    expect(media.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size']).to.equal('32m');
    expect(media.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']).to.equal('3600');
    expect(media.spec.rules[0].http.paths).to.deep.equal([
      {
        path: '/v1/media',
        pathType: 'Prefix',
        backend: { service: { name: 'parley-message-media', port: { number: 8080 } } },
      },
    ]);
    const main = find(docs, 'Ingress', 'parley')!;
    const paths = main.spec.rules[0].http.paths.map((p: Json) => p.path);
    expect(paths).to.not.include('/v1/media');
    expect(main.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size']).to.equal('1m');
  });

  it('gives the notifier the generated VAPID pair and unsubscribe key, and the api only the public key and unsubscribe key', () => {
    const job = docs.find((d) => d.kind === 'Job' && d.metadata.name.startsWith('parley-secrets'))!;
    const secrets = JSON.parse(job.spec.template.spec.containers[0].env[0].value) as Json[];
    expect(secrets.find((s) => s.name === 'parley-notify')!.keys).to.deep.equal({
      'vapid-public-key': 'vapid-public',
      'vapid-private-key': 'vapid-private',
      'unsubscribe-secret': 'hmac',
    });
    const refs = (name: string) =>
      container(docs, name)
        .env.filter((e: Json) => e.valueFrom?.secretKeyRef?.name === 'parley-notify')
        .map((e: Json) => `${e.name}=${e.valueFrom.secretKeyRef.key}`);
    expect(refs('parley-message-notifier')).to.deep.equal([
      'VAPID_PUBLIC_KEY=vapid-public-key',
      'VAPID_PRIVATE_KEY=vapid-private-key',
      'NOTIFY_UNSUBSCRIBE_SECRET=unsubscribe-secret',
    ]);
    // Least privilege: only the notifier signs pushes; the api hands out the public key.
    expect(refs('parley-message-api')).to.deep.equal([
      'VAPID_PUBLIC_KEY=vapid-public-key',
      'NOTIFY_UNSUBSCRIBE_SECRET=unsubscribe-secret',
    ]);
    const supplied = synth({ message: { notifier: { keys: { existingSecret: 'mine' } } } });
    const job2 = supplied.find((d) => d.kind === 'Job' && d.metadata.name.startsWith('parley-secrets'))!;
    const generated2 = JSON.parse(job2.spec.template.spec.containers[0].env[0].value) as Json[];
    expect(generated2.filter((s) => 'vapid-public-key' in s.keys).map((s) => s.name)).to.deep.equal(['']);
  });

  for (const deployment of ['parley-message-notifier', 'parley-auth'])
    it(`builds ${deployment}'s SMTP_URL from host, port and TLS, with AUTH only from a Secret`, () => {
      expect(environment(docs, deployment).SMTP_URL).to.equal('');
      const plain = synth({
        message: { notifier: { smtp: { host: 'mail.example.com', from: 'P <p@x.test>' } } },
      });
      expect(environment(plain, deployment)).to.include({
        SMTP_URL: 'smtp://mail.example.com:587',
        SMTP_FROM: 'P <p@x.test>',
      });
      const auth = synth({
        message: {
          notifier: { smtp: { host: 'mail.example.com', port: 465, tls: true, existingSecret: 's' } },
        },
      });
      const env = container(auth, deployment).env as Json[];
      const url = env.find((e) => e.name === 'SMTP_URL')!.value;
      expect(url).to.equal('smtps://$(SMTP_USERNAME):$(SMTP_PASSWORD)@mail.example.com:465');
      // Kubernetes expands $(VAR) only for variables defined earlier in the list.
      const before = env.slice(
        0,
        env.findIndex((e) => e.name === 'SMTP_URL'),
      );
      expect(
        before.filter((e) => e.name.startsWith('SMTP_')).map((e) => e.valueFrom.secretKeyRef),
      ).to.deep.equal([
        { name: 's', key: 'username', optional: true },
        { name: 's', key: 'password', optional: true },
      ]);
    });

  it('lets the auth service out to SMTP (verification mail) only when a host is set, on its port', () => {
    const withSmtp = synth({ message: { notifier: { smtp: { host: 'smtp.example.com', port: 2525 } } } });
    expect(egress(withSmtp, 'auth')).to.include('internet:2525');
    expect(egress(docs, 'auth').filter((e) => e.startsWith('internet:'))).to.deep.equal([]);
  });

  it('mounts the FCM service account read-only and names it only when a Secret is given', () => {
    expect(environment(docs, 'parley-message-notifier').FCM_CREDENTIALS_FILE).to.equal('');
    const fcm = synth({ message: { notifier: { fcm: { existingSecret: 'fcm-sa' } } } });
    expect(environment(fcm, 'parley-message-notifier').FCM_CREDENTIALS_FILE).to.equal(
      '/etc/parley/fcm/credentials.json',
    );
    const pod = find(fcm, 'Deployment', 'parley-message-notifier')!.spec.template.spec;
    expect(pod.volumes).to.deep.include({
      name: 'fcm',
      secret: {
        secretName: 'fcm-sa',
        items: [{ key: 'credentials.json', path: 'credentials.json' }],
        defaultMode: 0o440,
        optional: true,
      },
    });
    expect(pod.containers[0].volumeMounts).to.deep.include({
      name: 'fcm',
      mountPath: '/etc/parley/fcm',
      readOnly: true,
    });
  });

  it('keeps no credential in the values: secrets come only from named Secrets', () => {
    for (const [path, p] of leaves(parleyValuesSpec)) {
      if (
        !/secret|password|token|credential|(^|\.)keys?(\.|$)/i.test(path) ||
        path.endsWith('tls.secretName') ||
        path === 'imagePullSecrets'
      )
        continue;
      expect(path, `${path} holds a credential`).to.match(/\.existingSecret$/);
      expect(p.default, path).to.equal('');
    }
  });
});

describe('dead-letter Job (message.dlqReplay)', () => {
  it('is absent unless enabled', () => {
    expect(
      synth().filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'dlq-replay'),
    ).to.deep.equal([]);
  });

  it('runs scripts/dlq.ts in the message image with Kafka access only', () => {
    const docs = synth({ message: { dlqReplay: { enabled: true, action: 'replay' } } });
    const job = find(docs, 'Job', 'parley-dlq-replay-r1')!;
    const pod = job.spec.template.spec;
    const c = pod.containers[0];
    expect(c.image).to.equal('parley/message:0.1.0');
    expect(c.command).to.deep.equal(['node', '--import', 'tsx', 'scripts/dlq.ts', 'replay']);
    expect(c.env.map((e: Json) => e.name)).to.deep.equal(['KAFKA_BROKERS', 'WORKER_GROUP_ID']);
    expect(c.env.some((e: Json) => e.valueFrom)).to.equal(false);
    expect(pod.automountServiceAccountToken).to.equal(false);
    expect(c.securityContext.readOnlyRootFilesystem).to.equal(true);
    expect(egress(docs, 'dlq-replay')).to.deep.equal(['kafka:9092']);
    expect(docs.filter((d) => d.kind === 'Role' && d.metadata.name.includes('dlq'))).to.deep.equal([]);
  });
});
