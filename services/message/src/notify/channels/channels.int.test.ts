import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Mailpit, requireEnv } from '@parley/common/testing';
import { FakeFcm } from '../../testing/fake-fcm.ts';
import { PushEndpoint } from '../../testing/push-endpoint.ts';
import { SmtpMailChannel } from './email.ts';
import { FcmChannel } from './fcm.ts';
import type { WebPushTarget } from './port.ts';
import { pushChannelContract, type PushRig } from './push.contract.ts';
import { generateVapidKeys, WebPushChannel } from './webpush.ts';
import { PushEndpointPolicy } from '../pushendpoint.ts';

describe('notification channels against real local servers', function () {
  this.timeout(20_000);
  const endpoint = new PushEndpoint();
  const fcm = new FakeFcm();
  const vapid = { ...generateVapidKeys(), subject: 'mailto:ops@parley.test' };
  let web: WebPushChannel;
  let mobile: FcmChannel;

  before(async () => {
    await endpoint.start();
    const url = await fcm.start();
    web = new WebPushChannel(vapid, {
      tls: { ca: endpoint.ca },
      policy: new PushEndpointPolicy(['127.0.0.1']),
    });
    mobile = new FcmChannel(fcm.account, url);
  });
  after(async () => {
    await endpoint.stop();
    await fcm.stop();
  });

  const parsed = (s: string) => JSON.parse(s) as { title: string; body: string; conversationId: string };

  pushChannelContract<WebPushTarget>('Web Push (RFC 8030/8291, VAPID) at a local push endpoint', () => {
    let fail = false;
    return {
      channel: {
        send: (t, n) => {
          if (!fail) return web.send(t, n);
          fail = false;
          endpoint.answer(t.endpoint, 503);
          return web.send(t, n).finally(() => endpoint.answer(t.endpoint, 201));
        },
        close: () => web.close(),
      },
      target: () => endpoint.subscribe(),
      unsubscribe: (t) => endpoint.answer(t.endpoint, 410),
      failNext: () => (fail = true),
      received: async (t) =>
        endpoint.received.filter((r) => r.subscription === t.endpoint).map((r) => parsed(r.plaintext)),
    } satisfies PushRig<WebPushTarget>;
  });

  pushChannelContract<{ token: string }>('FCM HTTP v1 (local fake of the real API shape)', () => ({
    channel: mobile,
    target: () => ({ token: randomUUID() }),
    unsubscribe: (t) => fcm.unregistered.add(t.token),
    failNext: () => (fcm.failNext = 1),
    received: async (t) =>
      fcm.messages
        .filter((m) => m.token === t.token)
        .map((m) => ({
          title: m.notification!.title!,
          body: m.notification!.body!,
          conversationId: m.data!.conversationId!,
        })),
  }));

  describe('Web Push specifics', () => {
    it('encrypts with the subscription keys (aes128gcm), signs VAPID for the endpoint origin, sets TTL and a Topic', async () => {
      const t = endpoint.subscribe();
      expect(
        await web.send(t, {
          idempotencyKey: 'k',
          collapseKey: 'conv:c1',
          title: 'A',
          body: 'b',
          conversationId: 'c1',
          count: 1,
        }),
      ).to.include({ ok: true });
      const r = endpoint.received.find((x) => x.subscription === t.endpoint)!;
      expect(parsed(r.plaintext)).to.include({ title: 'A', body: 'b' });
      expect(r.headers).to.include({ encoding: 'aes128gcm', ttl: '86400', urgency: 'normal' });
      expect(r.headers.topic).to.match(/^[A-Za-z0-9_-]{32}$/);
      expect(r.vapid).to.include({ aud: endpoint.url, sub: 'mailto:ops@parley.test', k: vapid.publicKey });
    });

    const n = { idempotencyKey: 'k', collapseKey: 'c', title: 't', body: 'b', conversationId: 'c', count: 1 };
    it('sends nothing to an endpoint its policy refuses (a subscription stored before the allowlist)', async () => {
      const t = endpoint.subscribe();
      const strict = new WebPushChannel(vapid, { tls: { ca: endpoint.ca } });
      expect(await strict.send(t, n)).to.deep.equal({
        ok: false,
        kind: 'rejected',
        error: 'endpoint not allowed: endpoint host 127.0.0.1 is a private, loopback or link-local address',
      });
      await strict.close();
      expect(endpoint.received.filter((r) => r.subscription === t.endpoint)).to.deep.equal([]);
    });

    it('refuses a listed name that resolves to an unlisted internal address (DNS rebinding)', async () => {
      const t = endpoint.subscribe();
      const named = { ...t, endpoint: t.endpoint.replace('127.0.0.1', 'localhost') };
      const byName = new WebPushChannel(vapid, {
        tls: { ca: endpoint.ca },
        policy: new PushEndpointPolicy(['localhost']),
      });
      const res = await byName.send(named, n);
      await byName.close();
      expect(res).to.deep.include({ ok: false, kind: 'rejected' });
      expect((res as { error: string }).error).to.match(/resolves to internal address (127\.0\.0\.1|::1)/);
      expect(endpoint.received.filter((r) => r.subscription === t.endpoint)).to.deep.equal([]);
    });
  });

  describe('FCM specifics', () => {
    it('exchanges a service-account JWT for one access token and reuses it', async () => {
      const before = fcm.tokenExchanges;
      for (let i = 0; i < 3; i++)
        await mobile.send(
          { token: randomUUID() },
          { idempotencyKey: 'k', collapseKey: 'c', title: 't', body: 'b', conversationId: 'c', count: 1 },
        );
      expect(fcm.tokenExchanges - before).to.be.at.most(1);
    });

    it('refuses a service account whose key the token endpoint does not know', async () => {
      const other = new FakeFcm();
      const ch = new FcmChannel({ ...other.account, token_uri: fcm.account.token_uri! }, fcm.url);
      const res = await ch.send(
        { token: 'x' },
        { idempotencyKey: 'k', collapseKey: 'c', title: 't', body: 'b', conversationId: 'c', count: 1 },
      );
      expect(res).to.deep.include({ ok: false, kind: 'retry' });
      expect((res as { error: string }).error).to.contain('fcm oauth: 400');
    });
  });

  describe('email over SMTP (Mailpit)', () => {
    const mailpit = new Mailpit(requireEnv('MAILPIT_API_URL'));
    const smtp = () =>
      new SmtpMailChannel({ url: requireEnv('SMTP_URL'), from: 'Parley <notify@parley.test>' });
    const mail = (to: string) => ({
      to,
      subject: 'Alice: 3 new messages',
      text: '3 new messages in "Team"',
      html: '<p>3 new messages in &quot;Team&quot;</p>',
      idempotencyKey: randomUUID(),
      unsubscribeUrl: 'http://parley.test/v1/notifications/unsubscribe?token=t',
    });
    afterEach(() => mailpit.refuseRecipients(0));

    it('delivers a mail with one-click List-Unsubscribe headers (RFC 8058) and a stable Message-ID', async () => {
      const ch = smtp();
      const to = `${randomUUID()}@example.test`;
      const m = mail(to);
      expect(await ch.send(m)).to.include({ ok: true });
      const got = await mailpit.waitFor(to);
      expect(got.Subject).to.equal(m.subject);
      expect(got.Text.trim()).to.equal(m.text);
      const h = await mailpit.headers(got.ID);
      expect(h['List-Unsubscribe']).to.deep.equal([`<${m.unsubscribeUrl}>`]);
      expect(h['List-Unsubscribe-Post']).to.deep.equal(['List-Unsubscribe=One-Click']);
      expect(got.MessageID).to.match(/^[0-9a-f]{32}@parley\.notify$/);
      await ch.close();
    });

    it('reports a refused recipient (550) as a bounce, final for that mail only', async () => {
      const ch = smtp();
      await mailpit.refuseRecipients(550);
      const res = await ch.send(mail(`${randomUUID()}@example.test`));
      expect(res).to.deep.include({ ok: false, kind: 'rejected' });
      expect((res as { error: string }).error).to.match(/^bounced: 550/);
      await mailpit.refuseRecipients(0);
      const to = `${randomUUID()}@example.test`;
      expect(await ch.send(mail(to))).to.include({ ok: true });
      await mailpit.waitFor(to);
      await ch.close();
    });

    it('reports a temporary refusal (451) and an unreachable server as retryable', async () => {
      const ch = smtp();
      await mailpit.refuseRecipients(451);
      expect(await ch.send(mail(`${randomUUID()}@example.test`))).to.include({ ok: false, kind: 'retry' });
      await ch.close();
      const down = new SmtpMailChannel({ url: 'smtp://127.0.0.1:1', from: 'x@parley.test', timeoutMs: 2000 });
      expect(await down.send(mail('a@example.test'))).to.include({ ok: false, kind: 'retry' });
      await down.close();
    });
  });
});
