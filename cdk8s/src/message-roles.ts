/**
 * The message service's media and notifier roles (#22) as Deployments of the one message image:
 * the same probes, security, ConfigMap and shared settings as the api and the worker (ParleyApp),
 * with each role's own settings and Secrets.
 */
import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import { ParleyApp, type Backends } from './parley-app.ts';
import { claim, secretEnv, type Json } from './pod.ts';
import type { Secrets } from './secrets.ts';

/** Where the media role keeps files without object storage (the PVC's mount). */
export const MEDIA_DIR = '/var/lib/parley/media';
const FCM_DIR = '/etc/parley/fcm';
const FCM_KEY = 'credentials.json';

export interface MessageRoleProps {
  readonly backends: Backends;
  readonly secrets: Secrets;
  /** Environment every message role shares (JWKS URL, topic sizes, groups). */
  readonly shared: readonly Json[];
}

/**
 * The Web Push keys and the unsubscribe-link key. The notifier signs pushes and links and gets all
 * three; the api (`role: 'api'`) hands browsers the public key and checks links, and never gets the
 * VAPID private key.
 */
export function notifyKeyEnv(secrets: Secrets, role: 'api' | 'notifier'): Json[] {
  return [
    secretEnv('VAPID_PUBLIC_KEY', secrets.notify, 'vapid-public-key'),
    ...(role === 'notifier' ? [secretEnv('VAPID_PRIVATE_KEY', secrets.notify, 'vapid-private-key')] : []),
    secretEnv('NOTIFY_UNSUBSCRIBE_SECRET', secrets.notify, 'unsubscribe-secret'),
  ];
}

/**
 * The media role: /v1/media behind the Ingress. With `message.media.s3.bucket` the files go to that
 * S3-compatible store (credentials from `s3.existingSecret`) and any number of replicas run; without
 * one they go to a ReadWriteOnce PersistentVolumeClaim (kept on uninstall), one replica, replaced
 * with Recreate: attachments work on kind and minikube with no object store.
 */
export class MessageMedia extends Construct {
  readonly serviceName: string;

  constructor(scope: Construct, id: string, k: Knobs, props: MessageRoleProps) {
    super(scope, id);
    const component = 'message-media';
    this.serviceName = k.name(component);
    const m = k.values.message.media;
    const onS3 = m.s3.bucket !== '';
    if (!onS3 && m.replicaCount > 1) {
      throw new Error(
        `'message.media.replicaCount' (${m.replicaCount}) must be 1 without 'message.media.s3.bucket': the disk store is one volume`,
      );
    }
    if (onS3 && !m.s3.existingSecret) {
      throw new Error(
        `'message.media.s3.bucket' (${m.s3.bucket}) needs the credentials in 'message.media.s3.existingSecret'`,
      );
    }
    const env: Json[] = [
      { name: 'ROLE', value: 'media' },
      ...props.shared,
      { name: 'MEDIA_MAX_UPLOAD_BYTES', value: k.text('message.media.maxUploadBytes') },
      { name: 'MEDIA_MAX_FILE_BYTES', value: k.text('message.media.maxFileBytes') },
      { name: 'MEDIA_ALLOWED_TYPES', value: k.v<string>('message.media.allowedTypes') },
      { name: 'MEDIA_QUOTA_BYTES', value: k.text('message.media.quotaBytes') },
    ];
    const app = (variant: string, extra: Partial<ConstructorParameters<typeof ParleyApp>[3]>) =>
      new ParleyApp(this, variant, k, {
        component,
        imagePath: 'message.image',
        valuesPath: 'message.media',
        backends: props.backends,
        ...extra,
        env: [...env, ...(extra.env ?? [])],
      });
    k.under('$.Values.message.media.s3.bucket', onS3, () =>
      app('s3', {
        env: [
          { name: 'S3_BUCKET', value: k.v<string>('message.media.s3.bucket') },
          { name: 'S3_ENDPOINT', value: k.v<string>('message.media.s3.endpoint') },
          { name: 'S3_REGION', value: k.v<string>('message.media.s3.region') },
          { name: 'S3_FORCE_PATH_STYLE', value: k.text('message.media.s3.forcePathStyle') },
          secretEnv('S3_ACCESS_KEY_ID', props.secrets.s3, 'access-key-id'),
          secretEnv('S3_SECRET_ACCESS_KEY', props.secrets.s3, 'secret-access-key'),
        ],
      }),
    );
    k.under('not $.Values.message.media.s3.bucket', !onS3, () => {
      const pvc = claim(k, this.serviceName, 'message.media.persistence');
      k.emit(this, 'pvc', {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        // Attachments outlive an uninstall, as the StatefulSets' claims do.
        metadata: k.meta(this.serviceName, component, { annotations: { 'helm.sh/resource-policy': 'keep' } }),
        spec: pvc.spec,
      });
      app('disk', {
        replicas: 1,
        recreate: true,
        env: [{ name: 'MEDIA_DIR', value: MEDIA_DIR }],
        volumes: [
          {
            volume: { name: 'media', persistentVolumeClaim: { claimName: this.serviceName } },
            mount: { name: 'media', mountPath: MEDIA_DIR },
          },
        ],
      });
    });
  }
}

/**
 * SMTP_URL and SMTP_FROM from `message.notifier.smtp.*` (AUTH from its `existingSecret`): the
 * notifier's mail and the auth service's verification mail, one values block and Secret for both.
 */
export function smtpEnv(k: Knobs, secrets: Secrets): Json[] {
  const smtp = k.values.message.notifier.smtp;
  const p = '$.Values.message.notifier';
  const withAuth = smtp.existingSecret !== '';
  const url = smtp.host
    ? `${smtp.tls ? 'smtps' : 'smtp'}://${withAuth ? '$(SMTP_USERNAME):$(SMTP_PASSWORD)@' : ''}${smtp.host}:${smtp.port}`
    : '';
  return [
    // Without a Secret these stay unset, and SMTP_URL then carries no user.
    secretEnv('SMTP_USERNAME', secrets.smtp, 'username', true),
    secretEnv('SMTP_PASSWORD', secrets.smtp, 'password', true),
    {
      name: 'SMTP_URL',
      value: k.expr(
        url,
        `ternary "" (printf "%s://%s%s:%d" (ternary "smtps" "smtp" ${p}.smtp.tls) (ternary "$(SMTP_USERNAME):$(SMTP_PASSWORD)@" "" (not (empty ${p}.smtp.existingSecret))) ${p}.smtp.host (${p}.smtp.port | int)) (empty ${p}.smtp.host)`,
        'str',
      ),
    },
    { name: 'SMTP_FROM', value: k.v<string>('message.notifier.smtp.from') },
  ];
}

/**
 * The notifier role: consumes chat.events and mails or pushes offline members. It serves no
 * routes (the api serves /v1/notifications and /v1/push), only its management port. SMTP from
 * `smtp.*` (AUTH from `smtp.existingSecret`), Web Push with the generated or supplied VAPID pair,
 * FCM when `fcm.existingSecret` names a service-account key, mounted read-only.
 */
export class MessageNotifier extends Construct {
  readonly app: ParleyApp;

  constructor(scope: Construct, id: string, k: Knobs, props: MessageRoleProps) {
    super(scope, id);
    const n = k.values.message.notifier;
    const p = '$.Values.message.notifier';
    const ingressUrl = `${k.values.ingress.tls.enabled ? 'https' : 'http'}://${k.values.ingress.host}`;
    const withFcm = n.fcm.existingSecret !== '';
    this.app = new ParleyApp(this, 'app', k, {
      component: 'message-notifier',
      imagePath: 'message.image',
      valuesPath: 'message.notifier',
      backends: props.backends,
      api: false,
      secretFiles: {
        fcm: { secret: props.secrets.fcm, key: FCM_KEY, dir: FCM_DIR, optional: true },
      },
      env: [
        { name: 'ROLE', value: 'notifier' },
        ...props.shared,
        {
          name: 'NOTIFY_PUBLIC_URL',
          value: k.expr(
            n.publicUrl || ingressUrl,
            `default (printf "%s://%s" (ternary "https" "http" $.Values.ingress.tls.enabled) $.Values.ingress.host) ${p}.publicUrl`,
            'str',
          ),
        },
        ...notifyKeyEnv(props.secrets, 'notifier'),
        { name: 'VAPID_SUBJECT', value: k.v<string>('message.notifier.vapidSubject') },
        ...smtpEnv(k, props.secrets),
        {
          name: 'FCM_CREDENTIALS_FILE',
          value: k.expr(
            withFcm ? `${FCM_DIR}/${FCM_KEY}` : '',
            `ternary "${FCM_DIR}/${FCM_KEY}" "" (not (empty ${p}.fcm.existingSecret))`,
            'str',
          ),
        },
      ],
    });
  }
}
