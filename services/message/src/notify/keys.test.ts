import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadApiNotifyKeys, loadNotifyKeys } from './keys.ts';

const secret = 'u'.repeat(40);

describe('notification keys', () => {
  const generatedPath = () => join(mkdtempSync(join(tmpdir(), 'parley-keys-')), 'notify-keys.json');

  it('lets the api run with the public key and the unsubscribe key alone (no VAPID private key)', () => {
    const path = generatedPath();
    const generated: string[] = [];
    const keys = loadApiNotifyKeys({
      vapidPublicKey: 'BPub',
      unsubscribeSecret: secret,
      generatedPath: path,
      onGenerated: (p) => generated.push(p),
    });
    expect(keys).to.deep.equal({ vapidPublicKey: 'BPub', unsubscribeSecret: secret });
    expect(generated).to.deep.equal([]);
  });

  it('refuses a private key without its public key for the notifier', () => {
    expect(() =>
      loadNotifyKeys({
        vapidPrivateKey: 'x',
        unsubscribeSecret: secret,
        generatedPath: generatedPath(),
        onGenerated: () => {},
      }),
    ).to.throw(/set both VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY/);
  });

  it('embedded: the api and the notifier share the keys generated once in DATA_DIR', () => {
    const path = generatedPath();
    const generated: string[] = [];
    const onGenerated = (p: string) => generated.push(p);
    const notifier = loadNotifyKeys({ generatedPath: path, onGenerated });
    const api = loadApiNotifyKeys({ generatedPath: path, onGenerated });
    expect(generated).to.deep.equal([path]);
    expect(api).to.deep.equal({
      vapidPublicKey: notifier.vapid.publicKey,
      unsubscribeSecret: notifier.unsubscribeSecret,
    });
    expect(JSON.parse(readFileSync(path, 'utf8')).vapid.privateKey).to.equal(notifier.vapid.privateKey);
  });
});
