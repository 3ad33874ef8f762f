import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import { imageOf } from './pod.ts';
import { script } from './scripts.ts';
import { ScriptJob } from './script-job.ts';

/** uid of the `node` user in the Parley images. */
export const NODE_UID = 1000;

/** Keys of each generated Secret and how their values are made. */
const GENERATED = {
  jwt: { path: 'auth.jwt.existingSecret', keys: { 'signing-keys': 'jwks' } },
  redis: { path: 'redis.auth.existingSecret', keys: { 'redis-password': 'password' } },
  // One Secret for the api (public key, unsubscribe links) and the notifier (signing pushes).
  notify: {
    path: 'message.notifier.keys.existingSecret',
    keys: {
      'vapid-public-key': 'vapid-public',
      'vapid-private-key': 'vapid-private',
      'unsubscribe-secret': 'hmac',
    },
  },
  mongodb: {
    path: 'mongodb.auth.existingSecret',
    keys: {
      'root-password': 'password',
      'parley-password': 'password',
      'metrics-password': 'password',
      keyfile: 'keyfile',
    },
  },
} as const;

/**
 * The names of every Secret Parley reads, and a Job that generates in the cluster those the user
 * did not supply (existingSecret), so no credential is ever in values, manifests or git.
 */
export class Secrets extends Construct {
  readonly jwt: string;
  readonly redis: string;
  readonly mongodb: string;
  /** Optional: Twilio and GitHub are off while their Secret is absent. */
  readonly twilio: string;
  readonly github: string;
  /** Optional: the one-time admin bootstrap secret (#15). */
  readonly adminBootstrap: string;
  /** Web Push VAPID pair and unsubscribe-link key (generated when not supplied). */
  readonly notify: string;
  /** User-supplied only: S3 credentials (with a bucket), SMTP AUTH, the FCM service account. */
  readonly s3: string;
  readonly smtp: string;
  readonly fcm: string;

  constructor(scope: Construct, id: string, k: Knobs) {
    super(scope, id);
    this.jwt = k.secretName(GENERATED.jwt.path, 'jwt');
    this.redis = k.secretName(GENERATED.redis.path, 'redis');
    this.mongodb = k.secretName(GENERATED.mongodb.path, 'mongodb');
    this.twilio = k.secretName('auth.twilio.existingSecret', 'twilio');
    this.github = k.secretName('auth.github.existingSecret', 'github');
    this.adminBootstrap = k.secretName('auth.adminBootstrap.existingSecret', 'admin-bootstrap');
    this.notify = k.secretName(GENERATED.notify.path, 'notify');
    this.s3 = k.secretName('message.media.s3.existingSecret', 's3');
    this.smtp = k.secretName('message.notifier.smtp.existingSecret', 'smtp');
    this.fcm = k.secretName('message.notifier.fcm.existingSecret', 'fcm');

    const entries = Object.entries(GENERATED).map(([suffix, { path, keys }]) => {
      const supplied = Boolean(
        path.split('.').reduce<unknown>((v, p) => (v as Record<string, unknown>)[p], k.values),
      );
      const name = k.expr(
        supplied ? '' : `${k.fullname}-${suffix}`,
        `ternary "" (printf "%s-${suffix}" (include "parley.fullname" $)) (not (empty $.Values.${path}))`,
        'str',
      );
      return { name, keys, labels: k.selector('secrets') };
    });
    new ScriptJob(this, 'generate', k, {
      component: 'secrets',
      image: imageOf(k, 'auth.image'),
      uid: NODE_UID,
      scripts: { 'secrets-init.mjs': script('secrets-init.mjs') },
      command: ['node', '/scripts/secrets-init.mjs'],
      env: [{ name: 'SECRETS', value: JSON.stringify(entries) }],
      rules: [
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        {
          apiGroups: [''],
          resources: ['secrets'],
          resourceNames: Object.keys(GENERATED).map((s) => k.name(s)),
          verbs: ['get'],
        },
      ],
    });
  }
}
