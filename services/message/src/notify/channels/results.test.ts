import { expect } from 'chai';
import { smtpResult } from './email.ts';
import { fcmResult } from './fcm.ts';
import { pushPayload } from './port.ts';
import { pushStatusResult } from './webpush.ts';
import { checkUnsubscribeToken, unsubscribeToken } from '../unsubscribe.ts';

const kind = (r: { ok: boolean; kind?: string }) => (r.ok ? 'ok' : r.kind);

describe('notification channels: provider answers in the notifier’s terms', () => {
  const push: [number, string][] = [
    [404, 'gone'],
    [410, 'gone'],
    [413, 'rejected'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [400, 'rejected'],
    [403, 'rejected'],
  ];
  for (const [status, want] of push)
    it(`Web Push ${status} → ${want}`, () => expect(kind(pushStatusResult(status, ''))).to.equal(want));

  const fcm: [number, string, string][] = [
    [404, '{"error":{"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}', 'gone'],
    [400, '{"error":{"status":"INVALID_ARGUMENT","details":[{"errorCode":"UNREGISTERED"}]}}', 'gone'],
    [503, '{"error":{"status":"UNAVAILABLE"}}', 'retry'],
    [429, '{"error":{"status":"RESOURCE_EXHAUSTED","details":[{"errorCode":"QUOTA_EXCEEDED"}]}}', 'retry'],
    [400, '{"error":{"status":"INVALID_ARGUMENT","details":[{"errorCode":"INVALID_ARGUMENT"}]}}', 'rejected'],
    [502, '<html>bad gateway</html>', 'retry'],
  ];
  for (const [status, body, want] of fcm)
    it(`FCM ${status} ${body.slice(0, 40)} → ${want}`, () =>
      expect(kind(fcmResult(status, body))).to.equal(want));

  const smtp: [unknown, string, string][] = [
    [
      { responseCode: 550, response: '550 5.1.1 no such user' },
      'rejected',
      'bounced: 550 5.1.1 no such user',
    ],
    [{ responseCode: 451, response: '451 try later' }, 'retry', 'smtp: 451 try later'],
    [
      { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' },
      'retry',
      'smtp: ECONNREFUSED connect ECONNREFUSED',
    ],
  ];
  for (const [err, want, error] of smtp)
    it(`SMTP ${JSON.stringify(err)} → ${want}`, () =>
      expect(smtpResult(err)).to.deep.equal({ ok: false, kind: want, error }));

  it('refuses a push payload over 3993 bytes with the byte count', () => {
    const n = { idempotencyKey: 'k', collapseKey: 'c', title: 't', conversationId: 'c', count: 1 };
    expect(pushPayload({ ...n, body: 'x' }).ok).to.equal(true);
    const big = pushPayload({ ...n, body: 'x'.repeat(4000) });
    expect(big).to.deep.equal({ ok: false, error: 'payload too large: 4064 bytes (limit 3993)' });
  });
});

describe('unsubscribe tokens', () => {
  const secret = 's'.repeat(32);
  const now = 1_800_000_000;
  const good = unsubscribeToken(secret, 'user-1', now + 60);
  const [id, exp, sig] = good.split('.') as [string, string, string];
  const cases: [string, string, string][] = [
    ['a token it signed names its user', good, 'ok user-1'],
    ['another secret’s token is refused', unsubscribeToken('t'.repeat(32), 'user-1', now + 60), 'invalid'],
    [
      'a token whose user was swapped is refused',
      `${Buffer.from('user-2').toString('base64url')}.${exp}.${sig}`,
      'invalid',
    ],
    [
      'a token whose expiry was pushed back is refused',
      `${id}.${(now + 9999).toString(36)}.${sig}`,
      'invalid',
    ],
    ['a token past its expiry is expired', unsubscribeToken(secret, 'user-1', now), 'expired'],
    [
      'a forged token past its expiry is invalid, not expired',
      unsubscribeToken('t'.repeat(32), 'user-1', now - 5),
      'invalid',
    ],
    ['a token without a signature is refused', `${id}.${exp}`, 'invalid'],
    ['a token with four parts is refused', `${good}.x`, 'invalid'],
    ['the old two-part token (no expiry) is refused', `${id}.${sig}`, 'invalid'],
  ];
  for (const [name, token, want] of cases)
    it(name, () => {
      const r = checkUnsubscribeToken(secret, token, now);
      expect(r.ok ? `ok ${r.userId}` : r.reason).to.equal(want);
    });
});
