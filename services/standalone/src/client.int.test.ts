import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { ParleyApiError, ParleyClient } from '@parley/client';
import type { Running } from '@parley/common';
import { startEmbedded } from './testkit.ts';

const MiB = 1024 * 1024;
/** A 1×1 PNG: an image the server sniffs, strips and makes variants of. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const pdf = (n: number) => Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(n - 9)]);

describe('client SDK against an embedded server', function () {
  this.timeout(20_000);
  let running: Running;
  let stop: () => Promise<void>;
  let client: ParleyClient;

  before(async () => {
    // 5 MiB parts (the least S3 takes), so a 6 MiB file is a two-part upload.
    ({ running, stop } = await startEmbedded('client', {
      MEDIA_PART_BYTES: String(5 * MiB),
      RATE_LIMIT_REGISTER_PER_15MIN: '1000',
    }));
    client = new ParleyClient({ baseUrl: running.url + '/' });
  });
  after(async () => {
    await stop();
  });

  it('reads liveness', async () => {
    expect(await client.alive()).to.equal(true);
  });

  it('turns a problem+json answer into ParleyApiError with the stable code', async () => {
    const err = await client.request('GET', '/v1/nothing-here').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ParleyApiError);
    expect((err as ParleyApiError).code).to.equal('NOT_FOUND');
    expect((err as ParleyApiError).status).to.equal(404);
  });

  it('reports a dead server as not alive', async () => {
    expect(await new ParleyClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000 }).alive()).to.equal(
      false,
    );
  });

  const signUp = async () => {
    const c = new ParleyClient({ baseUrl: running.url, media: { singleMaxBytes: MiB } });
    const username = `sdk_${randomBytes(4).toString('hex')}`;
    await c.register({ username, password: 'a long and unusual passphrase' });
    return { c, username };
  };
  /** Two users and their direct conversation. */
  const chatPair = async () => {
    const [alice, bob] = [await signUp(), await signUp()];
    return {
      alice,
      bob,
      chat: await alice.c.createConversation({ type: 'direct', members: [bob.username] }),
    };
  };

  it('uploads an image, sends it in a message, and a member downloads its thumbnail', async () => {
    const { alice, bob, chat } = await chatPair();
    const a = await alice.c.media.upload({ conversationId: chat.id, file: PNG, filename: 'dot.png' });
    expect(a).to.include({ contentType: 'image/png', filename: 'dot.png', state: 'ready', width: 1 });
    expect(a.variants).to.deep.equal(['original', 'preview', 'thumbnail']);
    // Not in a message yet: only the uploader sees it.
    const hidden = await bob.c.media.get(a.id).catch((e: unknown) => e);
    expect((hidden as ParleyApiError).code).to.equal('ATTACHMENT_NOT_FOUND');
    const sent = await alice.c.sendMessage(
      chat.id,
      { clientMsgId: randomUUID(), body: 'a dot', attachments: [a.id] },
      { wait: true },
    );
    expect(sent.attachments).to.deep.equal([a.id]);
    expect((await bob.c.media.get(a.id)).messageId).to.equal(sent.id);
    // The disk store streams through the API: no presigned URL.
    expect(await bob.c.media.downloadUrl(a.id)).to.equal(null);
    const thumb = await bob.c.media.download(a.id, 'thumbnail');
    expect(thumb.status).to.equal(200);
    expect(thumb.headers.get('content-type')).to.equal('image/webp');
    expect(
      Buffer.from(await thumb.arrayBuffer())
        .subarray(0, 4)
        .toString(),
    ).to.equal('RIFF');
  });

  it('uploads a large file as a multipart upload through the API and reads back the same bytes', async () => {
    const { alice, chat: group } = await chatPair();
    const c = alice.c;
    const file = pdf(6 * MiB);
    const progress: number[] = [];
    const a = await c.media.upload({
      conversationId: group.id,
      file,
      filename: 'report.pdf',
      onProgress: (n) => progress.push(n),
    });
    expect(a).to.include({ contentType: 'application/pdf', size: file.length, state: 'ready' });
    // After each of the two parts (in either order), ending at the whole file.
    expect(progress).to.have.length(2);
    expect(progress.at(-1)).to.equal(file.length);
    const back = Buffer.from(await (await c.media.download(a.id)).arrayBuffer());
    expect(back.equals(file)).to.equal(true);
  });

  it('gives the stable code when the server refuses a multipart upload’s bytes on complete', async () => {
    const { alice, chat: group } = await chatPair();
    const c = alice.c;
    // Random bytes sniff as no known type: refused on complete.
    const err = await c.media
      .upload({ conversationId: group.id, file: randomBytes(2 * MiB), filename: 'noise' })
      .catch((e: unknown) => e);
    expect((err as ParleyApiError).code).to.equal('ATTACHMENT_TYPE_NOT_ALLOWED');
  });

  it('reads and changes notification preferences, mutes a conversation, and manages push devices', async () => {
    const { alice, chat: group } = await chatPair();
    const c = alice.c;
    expect(await c.notifications.list()).to.deep.equal({ items: [], unread: 0 });
    expect(await c.notifications.markRead('all')).to.equal(0);
    const prefs = await c.notifications.preferences();
    await c.notifications.setPreferences({
      ...prefs,
      email: 'digest',
      quietHours: { start: '22:00', end: '07:00', timeZone: 'Europe/Berlin' },
    });
    const muted = await c.notifications.mute(group.id);
    expect(muted).to.deep.include({ email: 'digest', muted: [{ conversationId: group.id }] });
    expect((await c.notifications.mute(group.id, null)).muted).to.deep.equal([]);
    const bad = await c.notifications
      .setPreferences({ ...prefs, quietHours: { start: '22:00', end: '07:00', timeZone: 'Mars/Base' } })
      .catch((e: unknown) => e);
    expect((bad as ParleyApiError).code).to.equal('INVALID_PREFERENCES');

    expect(await c.notifications.vapidPublicKey()).to.match(/^[A-Za-z0-9_-]{87}$/);
    const keys = {
      p256dh: Buffer.alloc(65, 4).toString('base64url'),
      auth: randomBytes(16).toString('base64url'),
    };
    await c.notifications.registerWebPush('laptop', {
      endpoint: 'https://fcm.googleapis.com/fcm/send/sub-1',
      keys,
    });
    await c.notifications.registerPush('phone', { class: 'mobile', token: 'fcm-token' });
    const devices = await c.notifications.pushDevices();
    expect(devices.map((d) => [d.deviceId, d.class]).sort()).to.deep.equal([
      ['laptop', 'web'],
      ['phone', 'mobile'],
    ]);
    await c.notifications.removePush('laptop');
    expect((await c.notifications.pushDevices()).map((d) => d.deviceId)).to.deep.equal(['phone']);
  });
});
