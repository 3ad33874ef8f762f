import { expect } from 'chai';
import { createHash } from 'node:crypto';
import type { Json } from '@parley/common/testing';
import { SECRET } from './rows.ts';
import { authzWorld, BOOTSTRAP_SECRET } from './world.ts';

describe('authorization matrix (embedded): accounts', function () {
  this.timeout(60_000);
  const t = authzWorld();
  const { w, call, json, register, refused } = t;

  describe('account attacks (#15, findings 2, 3, 6, 7 and 8)', () => {
    const outbox = () =>
      (t.running.deps().sms as unknown as { outbox: { to: string; body: string }[] }).outbox;
    const lastCode = (to: string) =>
      /(\d{6})/.exec([...outbox()].reverse().find((x) => x.to === to)?.body ?? '')?.[1];

    it('admin squatting: registering a name from AUTH_ADMIN_USERNAMES grants nothing', async () => {
      const boss = await register('boss');
      expect((await json('GET', '/v1/users/me', boss.token)).roles).to.deep.equal(['user']);
      const r = await call('POST', `/v1/admin/users/${w.users.bob.id}/block`, boss.token, {});
      refused(r, 403, 'FORBIDDEN', 'squatted admin name');
      // The secret root used is spent: it works once.
      const again = await call('POST', '/v1/auth/admin-bootstrap', boss.token, { secret: BOOTSTRAP_SECRET });
      refused(again, 403, 'ADMIN_BOOTSTRAP_REFUSED', 'a spent bootstrap secret');
    });

    it('pre-hijack: an account that typed the victim’s number is never what the victim’s SMS sign-in opens', async () => {
      const phone = '+4790011223';
      const squatter = await register({ username: 'prehijacker', phone });
      await json('POST', '/v1/auth/otp/request', undefined, { phone });
      const victim = await json('POST', '/v1/auth/otp/verify', undefined, { phone, code: lastCode(phone) });
      expect(victim.created).to.equal(true);
      expect(victim.user.id).to.not.equal(squatter.id);
      // The squatter cannot prove the number: the code goes to the victim's phone.
      const proof = await call('POST', '/v1/users/me/phone/verify', squatter.token, { code: '000000' });
      refused(proof, 401, 'INVALID_OTP', 'proving a number without its code');
    });

    it('enumeration: register and PATCH answer alike whoever else entered an email or phone', async () => {
      const taken = await call('POST', '/v1/auth/register', undefined, {
        username: 'enum_probe',
        password: 'correct horse battery',
        email: SECRET.email,
      });
      expect(taken.status, taken.text).to.equal(201);
      const p = await call('PATCH', '/v1/users/me', w.users.mallory.token, {
        email: SECRET.email,
        phone: '+4790011223',
      });
      expect(p.status, p.text).to.equal(200);
      expect(p.text).to.not.include('TAKEN');
    });

    it('per-account throttle: failures from many addresses delay the account, and the owner still gets in', async () => {
      await register('throttled');
      // Three failures (LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY here): under the per-(IP, login) limit
      // of 5, so what answers next is the per-account throttle alone, which ignores the address.
      for (let i = 0; i < 3; i++)
        expect(
          (
            await call('POST', '/v1/auth/login', undefined, {
              login: 'throttled',
              password: `wrong guess ${i}`,
            })
          ).status,
        ).to.equal(401);
      const delayed = await call('POST', '/v1/auth/login', undefined, {
        login: 'throttled',
        password: 'correct horse battery',
      });
      expect(delayed.status, delayed.text).to.equal(429);
      const problem = JSON.parse(delayed.text) as Json;
      expect(problem.code).to.equal('LOGIN_DELAYED');
      let nonce = 0;
      const zeroBits = (d: Buffer) => d[0] === 0; // 8 bits
      while (!zeroBits(createHash('sha256').update(`${problem.challenge}:${nonce}`).digest())) nonce++;
      const owner = await call('POST', '/v1/auth/login', undefined, {
        login: 'throttled',
        password: 'correct horse battery',
        proof: { challenge: problem.challenge, nonce: String(nonce) },
      });
      expect(owner.status, owner.text).to.equal(200);
    });

    it('display names cannot pass for another user', async () => {
      const r = await call('PATCH', '/v1/users/me', w.users.mallory.token, { displayName: '@alice' });
      refused(r, 422, 'DISPLAY_NAME_IMPERSONATION', 'display name @alice');
    });

    it('Bearer is case-insensitive', async () => {
      const res = await fetch(`${t.base}/v1/users/me`, {
        headers: { authorization: `bearer ${w.users.bob.token}` },
      });
      expect(res.status).to.equal(200);
    });
  });
});
