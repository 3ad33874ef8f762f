import { expect } from 'chai';
import { randomInt } from 'node:crypto';
import { waitFor } from '@parley/common';
import { uname, type AuthHarness } from '../testing/harness.ts';

/* The auth service over HTTP (SMS one-time codes: sign-in and proving a phone); composed into one suite by ../auth.suite.ts. */

export function otpCases(h: AuthHarness): void {
  const { call, register } = h;
  describe('SMS one-time codes', () => {
    const phone = () => `+4791${String(randomInt(1_000_000)).padStart(6, '0')}`;
    const lastCode = (to: string) => {
      const m = [...h.twilio.messages].reverse().find((x) => x.to === to);
      return /(\d{6})/.exec(m?.body ?? '')?.[1];
    };

    it('sends a code through the SMS provider and signs up the phone’s user with it', async () => {
      const p = phone();
      const req = await call('POST', '/v1/auth/otp/request', { body: { phone: p } });
      expect(req.statusCode).to.equal(202);
      const code = lastCode(p)!;
      expect(code).to.match(/^\d{6}$/);
      const ok = await call('POST', '/v1/auth/otp/verify', { body: { phone: p, code } });
      expect(ok.statusCode).to.equal(200);
      expect(ok.json()).to.include({ created: true });
      expect(ok.json().user.phone).to.equal(p);
      // A code works once.
      const again = await call('POST', '/v1/auth/otp/verify', { body: { phone: p, code } });
      expect(again.json().code).to.equal('INVALID_OTP');
    });

    it('signs in the existing user on later codes', async () => {
      const p = phone();
      await call('POST', '/v1/auth/otp/request', { body: { phone: p } });
      const first = (
        await call('POST', '/v1/auth/otp/verify', { body: { phone: p, code: lastCode(p) } })
      ).json();
      await waitFor(
        async () => (await call('POST', '/v1/auth/otp/request', { body: { phone: p } })).statusCode === 202,
        {
          timeoutMs: 5000,
          intervalMs: 250,
        },
      );
      const second = (
        await call('POST', '/v1/auth/otp/verify', { body: { phone: p, code: lastCode(p) } })
      ).json();
      expect(second.created).to.equal(false);
      expect(second.user.id).to.equal(first.user.id);
    });

    it('never signs the phone’s holder into an account that only typed the number (pre-hijack, #15 finding 2)', async () => {
      const p = phone();
      const attacker = await register(uname(), { phone: p });
      expect(attacker.user).to.not.have.property('phone');
      await call('POST', '/v1/auth/otp/request', { body: { phone: p } });
      const victim = await call('POST', '/v1/auth/otp/verify', { body: { phone: p, code: lastCode(p) } });
      expect(victim.statusCode, victim.body).to.equal(200);
      expect(victim.json()).to.include({ created: true });
      expect(victim.json().user.id).to.not.equal(attacker.user.id);
      expect(victim.json().user.phone).to.equal(p);
      // The attacker cannot prove it either: the code goes to the victim's phone.
      const mine = await call('GET', '/v1/users/me', { token: attacker.tokens.accessToken });
      expect(mine.json()).to.include({ pendingPhone: p });
      expect(mine.json()).to.not.have.property('phone');
    });

    it('proves a number with a code before it counts, and a verified number changes only through a code to the new one', async () => {
      const first = phone();
      const r = await register(uname(), { phone: first });
      const t = r.tokens.accessToken;
      expect(
        (await call('POST', '/v1/users/me/phone/verify', { token: t, body: { code: '123456' } })).json().code,
      ).to.equal('INVALID_OTP');
      expect((await call('POST', '/v1/users/me/phone/verification', { token: t })).statusCode).to.equal(202);
      const wrong = lastCode(first) === '000000' ? '111111' : '000000';
      expect(
        (await call('POST', '/v1/users/me/phone/verify', { token: t, body: { code: wrong } })).json().code,
      ).to.equal('INVALID_OTP');
      const proven = await call('POST', '/v1/users/me/phone/verify', {
        token: t,
        body: { code: lastCode(first) },
      });
      expect(proven.statusCode, proven.body).to.equal(200);
      expect(proven.json()).to.include({ phone: first });
      expect(proven.json()).to.not.have.property('pendingPhone');
      // Now SMS sign-in finds this account.
      await call('POST', '/v1/auth/otp/request', { body: { phone: first } });
      const signIn = await call('POST', '/v1/auth/otp/verify', {
        body: { phone: first, code: lastCode(first) },
      });
      expect(signIn.json()).to.include({ created: false });
      expect(signIn.json().user.id).to.equal(r.user.id);
      // Changing it: the proven number stays until the new one is proven.
      const second = phone();
      const changed = await call('PATCH', '/v1/users/me', { token: t, body: { phone: second } });
      expect(changed.json()).to.include({ phone: first, pendingPhone: second });
      await call('POST', '/v1/auth/otp/request', { body: { phone: second } });
      const stranger = await call('POST', '/v1/auth/otp/verify', {
        body: { phone: second, code: lastCode(second) },
      });
      expect(stranger.json().user.id, 'an unproven new number finds nobody').to.not.equal(r.user.id);
      // The stranger proved `second` first: our code now proves we hold it too, and only then are we told.
      await waitFor(
        async () => (await call('POST', '/v1/users/me/phone/verification', { token: t })).statusCode === 202,
        { timeoutMs: 5000, intervalMs: 250 },
      );
      const taken = await call('POST', '/v1/users/me/phone/verify', {
        token: t,
        body: { code: lastCode(second) },
      });
      expect(taken.json().code).to.equal('PHONE_TAKEN');
      const none = await register();
      expect(
        (await call('POST', '/v1/users/me/phone/verification', { token: none.tokens.accessToken })).json()
          .code,
      ).to.equal('NOTHING_TO_VERIFY');
    });

    it('enforces a resend cooldown with Retry-After', async () => {
      const p = phone();
      await call('POST', '/v1/auth/otp/request', { body: { phone: p } });
      const res = await call('POST', '/v1/auth/otp/request', { body: { phone: p } });
      expect(res.statusCode).to.equal(429);
      expect(res.json().code).to.equal('OTP_COOLDOWN');
      expect(res.headers['retry-after']).to.be.a('string');
    });

    it('burns a code after the maximum number of wrong guesses', async () => {
      const p = phone();
      await call('POST', '/v1/auth/otp/request', { body: { phone: p } });
      const code = lastCode(p)!;
      const wrong = code === '000000' ? '111111' : '000000';
      const answers = await Promise.all(
        Array.from({ length: 5 }, () =>
          call('POST', '/v1/auth/otp/verify', { body: { phone: p, code: wrong } }),
        ),
      );
      expect(answers.every((a) => a.json().code === 'INVALID_OTP')).to.equal(true);
      const right = await call('POST', '/v1/auth/otp/verify', { body: { phone: p, code } });
      expect(right.statusCode).to.equal(429);
      expect(right.json().code).to.equal('OTP_ATTEMPTS_EXCEEDED');
    });

    it('reports a number the provider rejects', async () => {
      const res = await call('POST', '/v1/auth/otp/request', { body: { phone: '+15005550001' } });
      expect(res.statusCode).to.equal(502);
      expect(res.json().code).to.equal('SMS_FAILED');
    });

    it('validates phone and code shapes', async () => {
      expect(
        (await call('POST', '/v1/auth/otp/request', { body: { phone: '0047 123' } })).json().code,
      ).to.equal('VALIDATION_FAILED');
      expect(
        (await call('POST', '/v1/auth/otp/verify', { body: { phone: phone(), code: '12ab56' } })).json().code,
      ).to.equal('VALIDATION_FAILED');
    });
  });
}
