import { expect } from 'chai';
import { createHash, randomInt } from 'node:crypto';
import { randomIp } from '@parley/common/testing';
import { PASSWORD, uname, type AuthHarness } from '../testing/harness.ts';

/* The auth service over HTTP (registration and password sign-in); composed into one suite by ../auth.suite.ts. */

export function passwordCases(h: AuthHarness): void {
  const { call, register } = h;
  describe('register and login', () => {
    it('registers, returns the user and a token pair, and lowercases the username', async () => {
      const name = uname('Mixed');
      const r = await register(name, { email: `${name}@Example.com`, displayName: 'Mixed Case' });
      expect(r.user.username).to.equal(name.toLowerCase());
      // An email nobody proved is pending, never the account's email (#15, finding 2).
      expect(r.user).to.include({
        displayName: 'Mixed Case',
        pendingEmail: `${name.toLowerCase()}@example.com`,
      });
      expect(r.user).to.not.have.property('email');
      const me = await call('GET', '/v1/users/me', { token: r.tokens.accessToken });
      expect(me.json().id).to.equal(r.user.id);
    });

    it('refuses a username that differs only in case', async () => {
      const name = uname();
      await register(name);
      const res = await call('POST', '/v1/auth/register', {
        body: { username: name.toUpperCase(), password: PASSWORD },
      });
      expect(res.statusCode).to.equal(409);
      expect(res.json().code).to.equal('USERNAME_TAKEN');
    });

    it('answers the same for an email or phone another account entered: nothing to enumerate (#15, finding 7)', async () => {
      const email = `${uname()}@example.com`;
      const phone = `+4792${String(randomInt(1_000_000)).padStart(6, '0')}`;
      const first = await register(uname(), { email, phone });
      const second = await call('POST', '/v1/auth/register', {
        body: { username: uname(), password: PASSWORD, email, phone },
      });
      expect(second.statusCode, second.body).to.equal(201);
      expect(second.json().user).to.include({ pendingEmail: email, pendingPhone: phone });
      const other = await register();
      const patched = await call('PATCH', '/v1/users/me', {
        token: other.tokens.accessToken,
        body: { email, phone },
      });
      expect(patched.statusCode, patched.body).to.equal(200);
      expect(patched.json()).to.include({ pendingEmail: email, pendingPhone: phone });
      expect(first.user.id).to.not.equal(other.user.id);
    });

    it('limits registrations per email and per phone across addresses (#15, finding 6)', async () => {
      const email = `${uname()}@example.com`;
      const codes: number[] = [];
      for (let i = 0; i < 6; i++)
        codes.push(
          (
            await call('POST', '/v1/auth/register', {
              body: { username: uname(), password: PASSWORD, email },
            })
          ).statusCode,
        );
      expect(codes).to.deep.equal([201, 201, 201, 201, 201, 429]);
    });

    it('refuses a display name that is another user’s username (#15, finding 8)', async () => {
      const victim = await register();
      for (const displayName of [victim.user.username, `@${victim.user.username.toUpperCase()}`]) {
        const res = await call('POST', '/v1/auth/register', {
          body: { username: uname(), password: PASSWORD, displayName },
        });
        expect(res.statusCode, displayName).to.equal(422);
        expect(res.json().code).to.equal('DISPLAY_NAME_IMPERSONATION');
      }
      const mallory = await register();
      const patched = await call('PATCH', '/v1/users/me', {
        token: mallory.tokens.accessToken,
        body: { displayName: `@${victim.user.username}` },
      });
      expect(patched.json().code).to.equal('DISPLAY_NAME_IMPERSONATION');
      // One's own username, and names nobody has, are fine.
      for (const displayName of [`@${mallory.user.username}`, 'Mallory M.'])
        expect(
          (
            await call('PATCH', '/v1/users/me', {
              token: mallory.tokens.accessToken,
              body: { displayName },
            })
          ).statusCode,
        ).to.equal(200);
    });

    it('refuses a password under 10 characters as the document says (minLength), with VALIDATION_FAILED', async () => {
      const res = await call('POST', '/v1/auth/register', {
        body: { username: uname(), password: 'short' },
      });
      expect(res.statusCode).to.equal(400);
      expect(res.json().errors).to.deep.equal([
        { path: 'body.password', message: 'must be at least 10 characters' },
      ]);
    });

    // Well-formed by the document, refused by the policy it states in prose: 422, not 400.
    const weak: [string, string][] = [
      ['password123', 'password is too common'],
      ['aaaaaaaaaaaa', 'password needs more variety of characters'],
    ];
    for (const [password, detail] of weak)
      it(`refuses the weak password "${password}" with 422 WEAK_PASSWORD`, async () => {
        const res = await call('POST', '/v1/auth/register', { body: { username: uname(), password } });
        expect(res.statusCode).to.equal(422);
        expect(res.json()).to.include({ code: 'WEAK_PASSWORD', detail });
      });

    it('refuses a password containing the username', async () => {
      const name = uname();
      const res = await call('POST', '/v1/auth/register', {
        body: { username: name, password: `${name}-and-more` },
      });
      expect(res.json().code).to.equal('WEAK_PASSWORD');
    });

    const badBodies: [string, unknown][] = [
      ['unknown field', { username: uname(), password: PASSWORD, admin: true }],
      ['wrong type', { username: 42, password: PASSWORD }],
      ['bad username characters', { username: 'no spaces!', password: PASSWORD }],
      ['too short username', { username: 'ab', password: PASSWORD }],
      ['operator injection', { username: { $gt: '' }, password: PASSWORD }],
      ['bad email', { username: uname(), password: PASSWORD, email: 'not-an-email' }],
      ['bad phone', { username: uname(), password: PASSWORD, phone: '12345' }],
      ['array body', [1, 2]],
    ];
    for (const [what, body] of badBodies)
      it(`answers VALIDATION_FAILED for ${what}`, async () => {
        const res = await call('POST', '/v1/auth/register', { body });
        expect(res.statusCode).to.equal(400);
        expect(res.json().code).to.equal('VALIDATION_FAILED');
      });

    it('answers MALFORMED_JSON and PAYLOAD_TOO_LARGE', async () => {
      expect((await call('POST', '/v1/auth/register', { raw: '{"username": "x"' })).json().code).to.equal(
        'MALFORMED_JSON',
      );
      const big = await call('POST', '/v1/auth/register', {
        raw: JSON.stringify({ username: 'x'.repeat(100_000) }),
      });
      expect(big.statusCode).to.equal(413);
      expect(big.json().code).to.equal('PAYLOAD_TOO_LARGE');
    });

    it('logs in by username case-insensitively; an unproven email finds no account', async () => {
      const name = uname();
      const email = `${name}@example.com`;
      await register(name, { email });
      for (const login of [name, name.toUpperCase()]) {
        const res = await call('POST', '/v1/auth/login', { body: { login, password: PASSWORD } });
        expect(res.statusCode, login).to.equal(200);
      }
      const byEmail = await call('POST', '/v1/auth/login', { body: { login: email, password: PASSWORD } });
      expect(byEmail.json().code).to.equal('INVALID_CREDENTIALS');
    });

    it('delays an account after failures from many addresses; the owner gets in with a proof of work (#15, finding 6)', async () => {
      const name = uname();
      await register(name);
      // 10 failures (LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY), each from a new address.
      for (let i = 0; i < 10; i++)
        expect(
          (await call('POST', '/v1/auth/login', { body: { login: name, password: 'wrong wrong wrong' } }))
            .statusCode,
        ).to.equal(401);
      const delayed = await call('POST', '/v1/auth/login', { body: { login: name, password: PASSWORD } });
      expect(delayed.statusCode, delayed.body).to.equal(429);
      const problem = delayed.json<{ code: string; challenge: string; difficulty: number }>();
      expect(problem.code).to.equal('LOGIN_DELAYED');
      expect(Number(delayed.headers['retry-after'])).to.be.within(1, 900);
      expect(problem.difficulty).to.equal(8);
      // An unknown login behaves alike, so the delay reveals nothing about who exists.
      const ghost = uname();
      for (let i = 0; i < 10; i++)
        await call('POST', '/v1/auth/login', { body: { login: ghost, password: 'wrong wrong wrong' } });
      expect(
        (await call('POST', '/v1/auth/login', { body: { login: ghost, password: PASSWORD } })).json().code,
      ).to.equal('LOGIN_DELAYED');
      const solve = (challenge: string, bits: number) => {
        for (let n = 0; ; n++) {
          const d = createHash('sha256').update(`${challenge}:${n}`).digest();
          let ok = true;
          for (let i = 0; i < bits && ok; i++) ok = ((d[i >> 3]! >> (7 - (i & 7))) & 1) === 0;
          if (ok) return String(n);
        }
      };
      let unsolved = 0;
      while (solve(problem.challenge, 8) === String(unsolved)) unsolved++;
      const bad = await call('POST', '/v1/auth/login', {
        body: {
          login: name,
          password: PASSWORD,
          proof: { challenge: problem.challenge, nonce: String(unsolved) },
        },
      });
      expect(bad.json().code, 'an unsolved challenge').to.equal('LOGIN_DELAYED');
      const fresh = (
        await call('POST', '/v1/auth/login', { body: { login: name, password: PASSWORD } })
      ).json<{
        challenge: string;
      }>().challenge;
      const proof = { challenge: fresh, nonce: solve(fresh, 8) };
      const ok = await call('POST', '/v1/auth/login', { body: { login: name, password: PASSWORD, proof } });
      expect(ok.statusCode, ok.body).to.equal(200);
      // A challenge works once, and only for the login it was handed to.
      const ghostChallenge = (
        await call('POST', '/v1/auth/login', { body: { login: ghost, password: PASSWORD } })
      ).json<{ challenge: string }>().challenge;
      const other = { challenge: ghostChallenge, nonce: solve(ghostChallenge, 8) };
      expect(
        (await call('POST', '/v1/auth/login', { body: { login: name, password: PASSWORD, proof: other } }))
          .statusCode,
      ).to.equal(200);
      expect(
        (await call('POST', '/v1/auth/login', { body: { login: ghost, password: PASSWORD, proof } })).json()
          .code,
        'a used challenge',
      ).to.equal('LOGIN_DELAYED');
    });

    it('gives the same answer for a wrong password and an unknown user', async () => {
      const name = uname();
      await register(name);
      const wrong = await call('POST', '/v1/auth/login', {
        body: { login: name, password: 'not the password at all' },
      });
      const unknown = await call('POST', '/v1/auth/login', {
        body: { login: uname(), password: 'not the password at all' },
      });
      expect(wrong.statusCode).to.equal(401);
      expect(unknown.statusCode).to.equal(401);
      expect(wrong.json().code).to.equal('INVALID_CREDENTIALS');
      expect(unknown.json().code).to.equal('INVALID_CREDENTIALS');
    });

    it('refuses U+0000 in any text with VALIDATION_FAILED (the store cannot hold it), never a 500', async () => {
      const login = await call('POST', '/v1/auth/login', {
        body: { login: 'a\u0000b', password: 'not the password at all' },
      });
      expect(login.statusCode).to.equal(400);
      expect(login.json()).to.include({
        code: 'VALIDATION_FAILED',
        detail: 'body.login: text must not contain U+0000',
      });
      const reg = await call('POST', '/v1/auth/register', {
        body: { username: uname(), password: PASSWORD, device: { name: 'phone\u0000', platform: 'web' } },
      });
      expect(reg.statusCode).to.equal(400);
      expect(reg.json().detail).to.equal('body.device.name: text must not contain U+0000');
    });

    it('refuses operator injection in login', async () => {
      const res = await call('POST', '/v1/auth/login', {
        body: { login: { $gt: '' }, password: { $ne: null } },
      });
      expect(res.json().code).to.equal('VALIDATION_FAILED');
    });

    it('locks out an (address, login) pair after 5 failures, with Retry-After', async () => {
      const name = uname();
      await register(name);
      const from = randomIp();
      for (let i = 0; i < 5; i++)
        expect(
          (
            await call('POST', '/v1/auth/login', {
              from,
              body: { login: name, password: 'wrong wrong wrong' },
            })
          ).statusCode,
        ).to.equal(401);
      const locked = await call('POST', '/v1/auth/login', {
        from,
        body: { login: name, password: PASSWORD },
      });
      expect(locked.statusCode).to.equal(429);
      expect(locked.json().code).to.equal('RATE_LIMITED');
      expect(Number(locked.headers['retry-after'])).to.be.within(1, 900);
      // Another address is not locked out.
      expect(
        (await call('POST', '/v1/auth/login', { body: { login: name, password: PASSWORD } })).statusCode,
      ).to.equal(200);
    });

    it('limits registrations per address', async () => {
      const from = randomIp();
      const codes: number[] = [];
      for (let i = 0; i < 6; i++)
        codes.push(
          (
            await call('POST', '/v1/auth/register', {
              from,
              body: { username: uname(), password: PASSWORD },
            })
          ).statusCode,
        );
      expect(codes).to.deep.equal([201, 201, 201, 201, 201, 429]);
    });
  });
}
