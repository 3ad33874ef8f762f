import { createECDH } from 'node:crypto';
import { loadConfig } from '@parley/common';
import { messageSettings } from '@parley/message';
import { expect } from 'chai';
import webpush from 'web-push';

type Generate = (keys: Record<string, string>) => Record<string, string>;
// The Job's script, imported: it runs its Kubernetes calls only as the entry point.
const { generate } = (await import(new URL('./scripts/secrets-init.mjs', import.meta.url).href)) as {
  generate: Generate;
};
const NOTIFY = {
  'vapid-public-key': 'vapid-public',
  'vapid-private-key': 'vapid-private',
  'unsubscribe-secret': 'hmac',
};

describe('the secrets Job generates the notify keys', () => {
  it('as one P-256 pair in web-push form, which signs VAPID headers', () => {
    const s = generate(NOTIFY);
    const derived = createECDH('prime256v1');
    derived.setPrivateKey(Buffer.from(s['vapid-private-key']!, 'base64url'));
    expect(derived.getPublicKey('base64url')).to.equal(s['vapid-public-key']);
    const headers = webpush.getVapidHeaders(
      'https://push.example.com',
      'mailto:admin@parley.local',
      s['vapid-public-key']!,
      s['vapid-private-key']!,
      'aes128gcm',
    );
    expect(headers.Authorization).to.match(/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=/);
  });

  it('that the message service accepts (the unsubscribe key has its 32 characters and more)', () => {
    const s = generate(NOTIFY);
    const cfg = loadConfig(messageSettings, {
      VAPID_PUBLIC_KEY: s['vapid-public-key'],
      VAPID_PRIVATE_KEY: s['vapid-private-key'],
      NOTIFY_UNSUBSCRIBE_SECRET: s['unsubscribe-secret'],
    });
    expect(cfg.notify.unsubscribeSecret).to.have.length(43);
  });

  it('fresh on every run: no fixed default', () => {
    const [a, b] = [generate(NOTIFY), generate(NOTIFY)];
    for (const key of Object.keys(NOTIFY)) expect(a[key], key).to.not.equal(b[key]);
  });
});
