import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { Doc } from '@parley/common';
import { PASSWORD, uname, type AuthHarness } from '../testing/harness.ts';

/* The auth service over HTTP (proving an email with a mailed code or link); composed into one suite by ../auth.suite.ts. */

export function emailCases(h: AuthHarness): void {
  const { call, register } = h;
  describe('email verification', () => {
    const address = () => `${randomBytes(6).toString('hex')}@example.test`;
    const ask = (token: string) => call('POST', '/v1/users/me/email/verification', { token });
    const verify = (token: string, body: Record<string, unknown>) =>
      call('POST', '/v1/users/me/email/verify', { token, body });
    /** The code and link token of the newest mail to `to`, once `count` mails reached it. */
    const mailed = async (to: string, count = 1) => {
      const text = await h.mailTo(to, count);
      return {
        text,
        code: /code is (\d{6})/.exec(text)![1]!,
        token: /https:\/\/chat\.parley\.test\/verify-email\?token=([A-Za-z0-9_-]+)/.exec(text)![1]!,
      };
    };
    const other = (code: string) => (code === '000000' ? '111111' : '000000');

    it('proves a typed email with the mailed code: it becomes the email, and an email login finds it', async () => {
      const to = address();
      const r = await register(uname(), { email: to });
      const t = r.tokens.accessToken;
      expect((await verify(t, { code: '123456' })).json().code, 'before any mail').to.equal('INVALID_OTP');
      const sent = await ask(t);
      expect([sent.statusCode, sent.json().expiresInSec]).to.deep.equal([202, 3600]);
      const m = await mailed(to);
      expect(m.text).to.contain('expires in 60 minutes');
      expect((await verify(t, { code: other(m.code) })).json().code).to.equal('INVALID_OTP');
      const ok = await verify(t, { code: m.code });
      expect(ok.statusCode, ok.body).to.equal(200);
      expect(ok.json()).to.include({ email: to }).and.not.have.property('pendingEmail');
      // Replayed: nothing is pending any more, and the address stays proven.
      expect((await verify(t, { code: m.code })).json().code).to.equal('NOTHING_TO_VERIFY');
      const login = await call('POST', '/v1/auth/login', { body: { login: to, password: PASSWORD } });
      expect(login.statusCode, login.body).to.equal(200);
      expect(login.json().user.id).to.equal(r.user.id);
    });

    it('the mailed link’s token proves it too, and only for the account it was mailed to', async () => {
      const [to, mine] = [address(), address()];
      const owner = await register(uname(), { email: to });
      const stranger = await register(uname(), { email: mine });
      await ask(owner.tokens.accessToken);
      const { token } = await mailed(to);
      const stolen = await verify(stranger.tokens.accessToken, { token });
      expect([stolen.statusCode, stolen.json().code]).to.deep.equal([401, 'INVALID_OTP']);
      const ok = await verify(owner.tokens.accessToken, { token });
      expect(ok.statusCode, ok.body).to.equal(200);
      expect(ok.json()).to.include({ email: to });
      const me = await call('GET', '/v1/users/me', { token: stranger.tokens.accessToken });
      expect(me.json()).to.include({ pendingEmail: mine }).and.not.have.property('email');
    });

    it('a changed email retires the codes already mailed, even after changing back', async () => {
      const to = address();
      const r = await register(uname(), { email: to });
      const t = r.tokens.accessToken;
      await ask(t);
      const first = await mailed(to);
      for (const email of [address(), to]) {
        const patched = await call('PATCH', '/v1/users/me', { token: t, body: { email } });
        expect(patched.json()).to.include({ pendingEmail: email });
      }
      expect((await verify(t, { code: first.code })).json().code).to.equal('INVALID_OTP');
      expect((await verify(t, { token: first.token })).json().code).to.equal('INVALID_OTP');
      expect((await ask(t)).statusCode, 'a new address has no cooldown yet').to.equal(202);
      const second = await mailed(to, 2);
      expect((await verify(t, { code: second.code })).json()).to.include({ email: to });
    });

    it('answers EMAIL_TAKEN only to a right code for an address another account proved, and keeps it pending', async () => {
      const to = address();
      const first = await register(uname(), { email: to });
      await ask(first.tokens.accessToken);
      await verify(first.tokens.accessToken, { code: (await mailed(to)).code });
      // Signing up with the address says nothing about who has it.
      const second = await register(uname(), { email: to.toUpperCase() });
      const t = second.tokens.accessToken;
      expect((await ask(t)).statusCode).to.equal(202);
      const { code } = await mailed(to, 2);
      expect((await verify(t, { code: other(code) })).json().code).to.equal('INVALID_OTP');
      const taken = await verify(t, { code });
      expect([taken.statusCode, taken.json().code]).to.deep.equal([409, 'EMAIL_TAKEN']);
      const me = await call('GET', '/v1/users/me', { token: t });
      expect(me.json()).to.include({ pendingEmail: to }).and.not.have.property('email');
    });

    it('enforces a resend cooldown with Retry-After, and counts mails sent apart from SMS', async () => {
      const value = async (series: string) => {
        const text = await (await fetch(`${h.running.managementUrl}/metrics`)).text();
        return Number(
          text
            .split('\n')
            .find((l) => l.startsWith(`${series}{outcome="sent"`))
            ?.split(' ')
            .pop(),
        );
      };
      const [mail0, sms0] = [
        await value('parley_auth_email_codes_total'),
        await value('parley_auth_otp_sms_total'),
      ];
      const r = await register(uname(), { email: address() });
      expect((await ask(r.tokens.accessToken)).statusCode).to.equal(202);
      expect(await value('parley_auth_email_codes_total')).to.equal(mail0 + 1);
      expect(await value('parley_auth_otp_sms_total')).to.equal(sms0);
      const again = await ask(r.tokens.accessToken);
      expect([again.statusCode, again.json().code]).to.deep.equal([429, 'OTP_COOLDOWN']);
      expect(again.headers['retry-after']).to.match(/^\d+$/);
    });

    it('burns a code after the maximum number of wrong guesses, the link with it', async () => {
      const to = address();
      const r = await register(uname(), { email: to });
      const t = r.tokens.accessToken;
      await ask(t);
      const m = await mailed(to);
      const answers = await Promise.all(Array.from({ length: 5 }, () => verify(t, { code: other(m.code) })));
      expect(answers.map((a) => a.json().code)).to.deep.equal(Array(5).fill('INVALID_OTP'));
      for (const proof of [{ code: m.code }, { token: m.token }]) {
        const burned = await verify(t, proof);
        expect([burned.statusCode, burned.json().code]).to.deep.equal([429, 'OTP_ATTEMPTS_EXCEEDED']);
      }
    });

    it('refuses an expired code', async () => {
      const to = address();
      const r = await register(uname(), { email: to });
      await ask(r.tokens.accessToken);
      const { code } = await mailed(to);
      const otps = await h.running.deps().store.collection<Doc & { phone: string }>('otps');
      const subject = `verify-email:${r.user.id}:-:${to}`;
      expect(await otps.updateMany({ phone: subject }, { $set: { expiresAt: Date.now() - 1 } })).to.equal(1);
      expect((await verify(r.tokens.accessToken, { code })).json().code).to.equal('INVALID_OTP');
    });

    it('answers NOTHING_TO_VERIFY without a pending email, and validates the proof’s shape', async () => {
      const none = await register();
      expect((await ask(none.tokens.accessToken)).json().code).to.equal('NOTHING_TO_VERIFY');
      const t = (await register(uname(), { email: address() })).tokens.accessToken;
      for (const body of [
        { code: '12ab56' },
        { token: 'short' },
        { code: '123456', token: 'x'.repeat(43) },
        {},
      ])
        expect((await verify(t, body)).json().code, JSON.stringify(body)).to.equal('VALIDATION_FAILED');
    });
  });
}
