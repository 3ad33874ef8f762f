import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { generateVapidKeys } from './channels/webpush.ts';

export interface NotifyKeys {
  unsubscribeSecret: string;
  vapid: { publicKey: string; privateKey: string };
}

/**
 * The notification keys: from config (Secrets, in a cluster), else generated once and kept in
 * DATA_DIR, as the JWT signing key is (embedded mode: one process, so one copy is enough).
 */
export function loadNotifyKeys(opts: {
  unsubscribeSecret?: string | undefined;
  vapidPublicKey?: string | undefined;
  vapidPrivateKey?: string | undefined;
  generatedPath: string;
  onGenerated: (path: string) => void;
}): NotifyKeys {
  if (!!opts.vapidPublicKey !== !!opts.vapidPrivateKey)
    throw new Error('in webPush: set both VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY, or neither');
  if (opts.unsubscribeSecret && opts.vapidPublicKey && opts.vapidPrivateKey)
    return {
      unsubscribeSecret: opts.unsubscribeSecret,
      vapid: { publicKey: opts.vapidPublicKey, privateKey: opts.vapidPrivateKey },
    };
  let stored: NotifyKeys;
  if (existsSync(opts.generatedPath))
    stored = JSON.parse(readFileSync(opts.generatedPath, 'utf8')) as NotifyKeys;
  else {
    stored = { unsubscribeSecret: randomBytes(32).toString('base64url'), vapid: generateVapidKeys() };
    mkdirSync(dirname(opts.generatedPath), { recursive: true });
    writeFileSync(opts.generatedPath, JSON.stringify(stored), { mode: 0o600 });
    opts.onGenerated(opts.generatedPath);
  }
  return {
    unsubscribeSecret: opts.unsubscribeSecret ?? stored.unsubscribeSecret,
    vapid:
      opts.vapidPublicKey && opts.vapidPrivateKey
        ? { publicKey: opts.vapidPublicKey, privateKey: opts.vapidPrivateKey }
        : stored.vapid,
  };
}

/** What the api role needs: the public key it hands to browsers and the unsubscribe-link key. */
export interface ApiNotifyKeys {
  unsubscribeSecret: string;
  vapidPublicKey: string;
}

/**
 * The api role's keys: with VAPID_PUBLIC_KEY and NOTIFY_UNSUBSCRIBE_SECRET set (a cluster gives
 * the api no VAPID private key: only the notifier signs pushes), those; else loadNotifyKeys's.
 */
export function loadApiNotifyKeys(opts: Parameters<typeof loadNotifyKeys>[0]): ApiNotifyKeys {
  if (opts.unsubscribeSecret && opts.vapidPublicKey)
    return { unsubscribeSecret: opts.unsubscribeSecret, vapidPublicKey: opts.vapidPublicKey };
  const keys = loadNotifyKeys(opts);
  return { unsubscribeSecret: keys.unsubscribeSecret, vapidPublicKey: keys.vapid.publicKey };
}
