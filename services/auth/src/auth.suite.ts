import { expect } from 'chai';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT, base64url } from 'jose';
import { runService, waitFor, type Running } from '@parley/common';
import { FakeTwilio, OpenApiChecker, validOpenApi } from '@parley/common/testing';
import { authSettings } from './config.ts';
import { generateSigningJwk } from './keys.ts';
import { authModule } from './module.ts';
import { AuthStore } from './store.ts';
import { FakeGithub } from './testing/fake-github.ts';

interface Res {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json: <T = Record<string, any>>() => T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const ip = () => `10.${randomInt(255)}.${randomInt(255)}.${randomInt(254) + 1}`;
function randomInt(n: number) {
  return Math.floor(Math.random() * n);
}
const uname = (p = 'u') => `${p}_${randomBytes(5).toString('hex')}`;
const PASSWORD = 'a long and unusual passphrase';

/**
 * The auth service's HTTP contract, run in-process against embedded adapters and against the real
 * local stack. Every response is checked against the served OpenAPI document.
 */
export function authHttpSuite(name: string, stackEnv: () => Record<string, string>): void {
  describe(`auth service over HTTP: ${name}`, function () {
    this.timeout(60_000);
    let running: Running;
    let dir: string;
    let checker: OpenApiChecker;
    const twilio = new FakeTwilio();
    const github = new FakeGithub();
    let keysJson: string;
    let env: Record<string, string>;
    // Per run: a store shared across runs remembers which secret values were used.
    const bootstrapSecret = randomBytes(24).toString('hex');
    // A listed name nobody has registered yet (a shared store may hold root_admin from older runs).
    const squatName = uname('boss');
    let admin: { id: string; username: string } | undefined;
    /** The run's admin, made once through the bootstrap secret; a fresh token each call. */
    async function adminSession(): Promise<{ id: string; token: string }> {
      if (!admin) {
        const r = await register(uname('adm'));
        const res = await call('POST', '/v1/auth/admin-bootstrap', {
          token: r.tokens.accessToken,
          body: { secret: bootstrapSecret },
        });
        expect(res.statusCode, res.body).to.equal(200);
        admin = r.user;
      }
      const login = await call('POST', '/v1/auth/login', {
        body: { login: admin.username, password: PASSWORD },
      });
      expect(login.json().user.roles).to.include('admin');
      return { id: admin.id, token: login.json().tokens.accessToken };
    }

    async function boot(extra: Record<string, string> = {}): Promise<Running> {
      const r = await runService({
        name: 'parley-auth',
        spec: authSettings,
        env: { ...env, ...extra },
        modules: () => [authModule()],
      });
      await r.ready;
      return r;
    }

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'parley-auth-'));
      const twilioUrl = await twilio.start();
      const githubUrl = await github.start();
      keysJson = JSON.stringify([await generateSigningJwk('key-a')]);
      env = {
        PORT: '0',
        MANAGEMENT_PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dir,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        JWT_SIGNING_KEYS: keysJson,
        TWILIO_ACCOUNT_SID: twilio.accountSid,
        TWILIO_AUTH_TOKEN: twilio.authToken,
        TWILIO_FROM: '+15005550006',
        TWILIO_BASE_URL: twilioUrl,
        GITHUB_CLIENT_ID: github.clientId,
        GITHUB_CLIENT_SECRET: github.clientSecret,
        GITHUB_REDIRECT_URL: 'http://127.0.0.1:1/v1/auth/github/callback',
        GITHUB_WEB_URL: githubUrl,
        GITHUB_API_URL: githubUrl,
        // The old setting is ignored now: a name in it gets no admin role (#15, finding 3).
        AUTH_ADMIN_USERNAMES: `root_admin,${squatName}`,
        AUTH_ADMIN_BOOTSTRAP_SECRET: bootstrapSecret,
        LOGIN_PROOF_OF_WORK_BITS: '8',
        OTP_RESEND_COOLDOWN_SECONDS: '2',
        // Runs must not share rate-limit counters or the inactivity lock through a long-lived Redis.
        REDIS_KEY_PREFIX: `parley-test-${randomBytes(4).toString('hex')}:`,
        ...stackEnv(),
      };
      running = await boot();
      const doc = (await running.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
      checker = new OpenApiChecker(doc);
    });

    after(async () => {
      await running?.stop('test');
      await twilio.stop();
      await github.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function call(
      method: string,
      route: string,
      opts: {
        body?: unknown;
        raw?: string;
        token?: string;
        params?: Record<string, string>;
        query?: string;
        from?: string;
        on?: Running;
      } = {},
    ): Promise<Res> {
      let url = route;
      for (const [k, v] of Object.entries(opts.params ?? {}))
        url = url.replace(`:${k}`, encodeURIComponent(v));
      const res = await (opts.on ?? running).inject({
        method: method as 'GET',
        url: url + (opts.query ? `?${opts.query}` : ''),
        remoteAddress: opts.from ?? ip(),
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body !== undefined || opts.raw !== undefined
            ? { 'content-type': 'application/json' }
            : {}),
          'user-agent': 'parley-tests/1.0',
        },
        ...(opts.raw !== undefined
          ? { payload: opts.raw }
          : opts.body !== undefined
            ? { payload: JSON.stringify(opts.body) }
            : {}),
      });
      checker.check(method, route, res);
      return res as unknown as Res;
    }

    async function register(username = uname(), extra: Record<string, unknown> = {}) {
      const res = await call('POST', '/v1/auth/register', {
        body: { username, password: PASSWORD, ...extra },
      });
      expect(res.statusCode, res.body).to.equal(201);
      return res.json<{
        user: { id: string; username: string };
        tokens: { accessToken: string; refreshToken: string; sessionId: string };
      }>();
    }

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
        const from = ip();
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
        const from = ip();
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

    describe('tokens and sessions', () => {
      it('rotates refresh tokens, and a reused one revokes the whole session', async () => {
        const r = await register();
        const first = await call('POST', '/v1/auth/refresh', {
          body: { refreshToken: r.tokens.refreshToken },
        });
        expect(first.statusCode).to.equal(200);
        const second = first.json().refreshToken as string;
        expect(second).to.not.equal(r.tokens.refreshToken);
        const reuse = await call('POST', '/v1/auth/refresh', {
          body: { refreshToken: r.tokens.refreshToken },
        });
        expect(reuse.statusCode).to.equal(401);
        expect(reuse.json().code).to.equal('REFRESH_TOKEN_REUSED');
        // The legitimate newer token dies with the family, and so do access tokens of the session.
        const after = await call('POST', '/v1/auth/refresh', { body: { refreshToken: second } });
        expect(after.json().code).to.equal('INVALID_REFRESH_TOKEN');
        const me = await call('GET', '/v1/users/me', { token: first.json().accessToken });
        expect(me.statusCode).to.equal(401);
        expect(me.json().code).to.equal('UNAUTHENTICATED');
      });

      it('lets exactly one of two concurrent refreshes with the same token win', async () => {
        const r = await register();
        const results = await Promise.all(
          [1, 2].map(() =>
            call('POST', '/v1/auth/refresh', { body: { refreshToken: r.tokens.refreshToken } }),
          ),
        );
        expect(results.map((x) => x.statusCode).sort()).to.deep.equal([200, 401]);
      });

      it('refuses forged and malformed refresh tokens', async () => {
        const r = await register();
        const [prefix, sid, gen] = r.tokens.refreshToken.split('.');
        const forged = `${prefix}.${sid}.${gen}.${randomBytes(32).toString('base64url')}`;
        for (const refreshToken of [
          forged,
          'garbage',
          `rt1.${randomUUID()}.0.${randomBytes(32).toString('base64url')}`,
        ]) {
          const res = await call('POST', '/v1/auth/refresh', { body: { refreshToken } });
          expect(res.json().code, refreshToken).to.equal('INVALID_REFRESH_TOKEN');
        }
      });

      it('logout ends this session only; logout-all ends every one', async () => {
        const name = uname();
        const a = await register(name);
        const b = (
          await call('POST', '/v1/auth/login', { body: { login: name, password: PASSWORD } })
        ).json();
        const c = (
          await call('POST', '/v1/auth/login', { body: { login: name, password: PASSWORD } })
        ).json();
        expect((await call('POST', '/v1/auth/logout', { token: a.tokens.accessToken })).statusCode).to.equal(
          204,
        );
        expect((await call('GET', '/v1/users/me', { token: a.tokens.accessToken })).statusCode).to.equal(401);
        expect((await call('GET', '/v1/users/me', { token: b.tokens.accessToken })).statusCode).to.equal(200);
        const all = await call('POST', '/v1/auth/logout-all', { token: b.tokens.accessToken });
        expect(all.json().revoked).to.equal(2);
        expect((await call('GET', '/v1/users/me', { token: c.tokens.accessToken })).statusCode).to.equal(401);
        expect(
          (await call('POST', '/v1/auth/refresh', { body: { refreshToken: c.tokens.refreshToken } }))
            .statusCode,
        ).to.equal(401);
      });

      it('keeps a revoked session revoked across a restart', async () => {
        const r = await register();
        expect((await call('POST', '/v1/auth/logout', { token: r.tokens.accessToken })).statusCode).to.equal(
          204,
        );
        // A second process on the same store and keys stands in for a restart: it has not seen
        // the revocation in its cache.
        const restarted = await boot();
        try {
          const res = await call('GET', '/v1/users/me', { token: r.tokens.accessToken, on: restarted });
          expect(res.statusCode).to.equal(401);
          expect(res.json().detail).to.match(/revoked/);
        } finally {
          await restarted.stop('test');
        }
      });

      it('publishes the signing key in the JWKS without private parts', async () => {
        const jwks = (await call('GET', '/.well-known/jwks.json')).json<{ keys: Record<string, string>[] }>();
        expect(jwks.keys.map((k) => k.kid)).to.deep.equal(['key-a']);
        expect(jwks.keys[0]).to.not.have.property('d');
      });

      describe('hostile access tokens', () => {
        let good: string;
        before(async () => {
          good = (await register()).tokens.accessToken;
        });
        const claims = (token: string) =>
          JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
        const expectRejected = async (token: string, why: string) => {
          const res = await call('GET', '/v1/users/me', { token });
          expect(res.statusCode, why).to.equal(401);
          expect(res.json().code, why).to.equal('UNAUTHENTICATED');
        };

        it('takes the Bearer scheme in any case (RFC 9110) (#15, finding 8)', async () => {
          for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
            const res = await running.inject({
              method: 'GET',
              url: '/v1/users/me',
              headers: { authorization: `${scheme} ${good}` },
            });
            expect(res.statusCode, scheme).to.equal(200);
          }
        });

        it('rejects a missing or non-bearer authorization', async () => {
          expect((await call('GET', '/v1/users/me')).json().code).to.equal('UNAUTHENTICATED');
          const res = await running.inject({
            method: 'GET',
            url: '/v1/users/me',
            headers: { authorization: 'Basic YTpi' },
          });
          expect(res.statusCode).to.equal(401);
        });

        it('rejects a token signed by another key with the same kid (forged)', async () => {
          const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
          const c = claims(good);
          const forged = await new SignJWT(c)
            .setProtectedHeader({ alg: 'EdDSA', kid: 'key-a', typ: 'at+jwt' })
            .sign(privateKey);
          await expectRejected(forged, 'forged');
        });

        it('rejects an expired token', async () => {
          const key = JSON.parse(keysJson)[0];
          const { importJWK } = await import('jose');
          const priv = await importJWK(key, 'EdDSA');
          const c = {
            ...claims(good),
            iat: Math.floor(Date.now() / 1000) - 3600,
            exp: Math.floor(Date.now() / 1000) - 60,
          };
          const expired = await new SignJWT(c)
            .setProtectedHeader({ alg: 'EdDSA', kid: 'key-a', typ: 'at+jwt' })
            .sign(priv);
          const res = await call('GET', '/v1/users/me', { token: expired });
          expect(res.statusCode).to.equal(401);
          expect(res.json().detail).to.match(/expired/);
        });

        it('rejects another issuer and another audience', async () => {
          const { importJWK } = await import('jose');
          const priv = await importJWK(JSON.parse(keysJson)[0], 'EdDSA');
          for (const override of [{ iss: 'evil' }, { aud: 'other-service' }]) {
            const t = await new SignJWT({ ...claims(good), ...override })
              .setProtectedHeader({ alg: 'EdDSA', kid: 'key-a', typ: 'at+jwt' })
              .sign(priv);
            await expectRejected(t, JSON.stringify(override));
          }
        });

        it('rejects alg=none', async () => {
          const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
          const payload = base64url.encode(JSON.stringify(claims(good)));
          await expectRejected(`${header}.${payload}.`, 'alg none');
        });

        it('rejects HS256 signed with the public key (key confusion)', async () => {
          const jwks = (await call('GET', '/.well-known/jwks.json')).json<{ keys: { x: string }[] }>();
          const secret = new TextEncoder().encode(jwks.keys[0]!.x);
          const t = await new SignJWT(claims(good))
            .setProtectedHeader({ alg: 'HS256', kid: 'key-a' })
            .sign(secret);
          await expectRejected(t, 'HS256 key confusion');
        });

        it('rejects a tampered payload', async () => {
          const [h, , s] = good.split('.');
          const p = base64url.encode(JSON.stringify({ ...claims(good), roles: ['user', 'admin'] }));
          await expectRejected(`${h}.${p}.${s}`, 'tampered');
        });
      });

      it('keeps tokens of the previous key valid after rotation and signs new ones with the new key', async () => {
        const old = await register();
        const newKey = await generateSigningJwk('key-b');
        const rotated = await boot({ JWT_SIGNING_KEYS: JSON.stringify([newKey, ...JSON.parse(keysJson)]) });
        try {
          const jwks = (await rotated.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
          expect(jwks.keys.map((k: { kid: string }) => k.kid)).to.deep.equal(['key-b', 'key-a']);
          expect(
            (await call('GET', '/v1/users/me', { token: old.tokens.accessToken, on: rotated })).statusCode,
          ).to.equal(200);
          const fresh = (
            await call('POST', '/v1/auth/login', {
              on: rotated,
              body: { login: old.user.username, password: PASSWORD },
            })
          ).json();
          const header = JSON.parse(
            Buffer.from(fresh.tokens.accessToken.split('.')[0], 'base64url').toString(),
          );
          expect(header).to.include({ alg: 'EdDSA', kid: 'key-b' });
        } finally {
          await rotated.stop('test');
        }
      });
    });

    describe('SMS one-time codes', () => {
      const phone = () => `+4791${String(randomInt(1_000_000)).padStart(6, '0')}`;
      const lastCode = (to: string) => {
        const m = [...twilio.messages].reverse().find((x) => x.to === to);
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
          (await call('POST', '/v1/users/me/phone/verify', { token: t, body: { code: '123456' } })).json()
            .code,
        ).to.equal('INVALID_OTP');
        expect((await call('POST', '/v1/users/me/phone/verification', { token: t })).statusCode).to.equal(
          202,
        );
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
          async () =>
            (await call('POST', '/v1/users/me/phone/verification', { token: t })).statusCode === 202,
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
          (await call('POST', '/v1/auth/otp/verify', { body: { phone: phone(), code: '12ab56' } })).json()
            .code,
        ).to.equal('VALIDATION_FAILED');
      });
    });

    describe('GitHub sign-in', () => {
      async function flow(): Promise<Res> {
        const start = await call('GET', '/v1/auth/github/start');
        expect(start.statusCode).to.equal(302);
        const authorize = new URL(String(start.headers.location));
        expect(authorize.searchParams.get('code_challenge_method')).to.equal('S256');
        // The "browser" follows GitHub's redirect back to our callback.
        const back = await fetch(authorize, { redirect: 'manual' });
        const cb = new URL(back.headers.get('location')!);
        return call('GET', '/v1/auth/github/callback', { query: cb.searchParams.toString() });
      }

      it('creates an account on first sign-in and finds it again later', async () => {
        github.user = {
          id: 5000 + randomInt(1_000_000),
          login: uname('Octo'),
          name: 'Octo Cat',
          emails: [{ email: `${uname()}@gh.example`, primary: true, verified: true }],
        };
        const first = await flow();
        expect(first.statusCode, first.body).to.equal(200);
        expect(first.json()).to.include({ created: true });
        expect(first.json().user).to.include({
          githubLinked: true,
          displayName: 'Octo Cat',
          email: github.user.emails[0]!.email,
        });
        const second = await flow();
        expect(second.json()).to.include({ created: false });
        expect(second.json().user.id).to.equal(first.json().user.id);
      });

      it('refuses a replayed callback (single-use state)', async () => {
        const start = await call('GET', '/v1/auth/github/start');
        const back = await fetch(new URL(String(start.headers.location)), { redirect: 'manual' });
        const query = new URL(back.headers.get('location')!).searchParams.toString();
        expect((await call('GET', '/v1/auth/github/callback', { query })).statusCode).to.equal(200);
        const replay = await call('GET', '/v1/auth/github/callback', { query });
        expect(replay.statusCode).to.equal(400);
        expect(replay.json().code).to.equal('OAUTH_FAILED');
      });

      it('refuses an unknown state and a denied authorization', async () => {
        expect(
          (await call('GET', '/v1/auth/github/callback', { query: 'code=abc&state=nope' })).json().code,
        ).to.equal('OAUTH_FAILED');
        expect(
          (await call('GET', '/v1/auth/github/callback', { query: 'error=access_denied' })).json().code,
        ).to.equal('OAUTH_FAILED');
      });
    });

    describe('users and devices', () => {
      it('updates the profile, and null removes a field', async () => {
        const r = await register(uname(), { email: `${uname()}@example.com` });
        const t = r.tokens.accessToken;
        const patched = await call('PATCH', '/v1/users/me', {
          token: t,
          body: { displayName: 'New Name', email: null },
        });
        expect(patched.json()).to.include({ displayName: 'New Name' });
        expect(patched.json()).to.not.have.property('email');
        expect((await call('PATCH', '/v1/users/me', { token: t, body: {} })).json().code).to.equal(
          'VALIDATION_FAILED',
        );
        // Each is refused by the document too (minProperties, pattern \S, email limits of RFC 5321).
        for (const body of [
          { displayName: '   ' },
          { email: `${'a'.repeat(65)}@example.com` },
          { email: `a@${'b'.repeat(64)}.com` },
        ])
          expect(
            (await call('PATCH', '/v1/users/me', { token: t, body })).json().code,
            JSON.stringify(body),
          ).to.equal('VALIDATION_FAILED');
        expect(
          (
            await call('PATCH', '/v1/users/me', {
              token: t,
              // Unique per run: the real stack keeps its data between runs.
              body: { email: `${(uname() + 'a'.repeat(64)).slice(0, 64)}@example.com` },
            })
          ).statusCode,
        ).to.equal(200);
        expect(
          (await call('PATCH', '/v1/users/me', { token: t, body: { roles: ['admin'] } })).json().code,
        ).to.equal('VALIDATION_FAILED');
      });

      it('shows public profiles without private fields', async () => {
        const a = await register(uname(), {
          email: `${uname()}@example.com`,
          phone: `+4791${String(randomInt(1_000_000)).padStart(6, '0')}`,
        });
        const b = await register();
        const res = await call('GET', '/v1/users/:username', {
          token: b.tokens.accessToken,
          params: { username: a.user.username },
        });
        expect(Object.keys(res.json()).sort()).to.deep.equal(['displayName', 'id', 'status', 'username']);
        expect(
          (
            await call('GET', '/v1/users/:username', {
              token: b.tokens.accessToken,
              params: { username: 'nobody_here' },
            })
          ).json().code,
        ).to.equal('USER_NOT_FOUND');
      });

      it('publishes and reads public keys', async () => {
        const a = await register();
        const b = await register();
        const key = randomBytes(32).toString('base64');
        expect(
          (
            await call('GET', '/v1/users/:username/public-key', {
              token: b.tokens.accessToken,
              params: { username: a.user.username },
            })
          ).statusCode,
        ).to.equal(404);
        await call('PUT', '/v1/users/me/public-key', {
          token: a.tokens.accessToken,
          body: { algorithm: 'x25519', key },
        });
        const got = await call('GET', '/v1/users/:username/public-key', {
          token: b.tokens.accessToken,
          params: { username: a.user.username },
        });
        expect(got.json()).to.include({ username: a.user.username, algorithm: 'x25519', key });
      });

      it('lists devices and revokes one at once; another user’s device is not found', async () => {
        const name = uname();
        const a = await register(name, { device: { name: 'Pixel 9', platform: 'android' } });
        const b = (
          await call('POST', '/v1/auth/login', {
            body: { login: name, password: PASSWORD, device: { name: 'MacBook', platform: 'macos' } },
          })
        ).json();
        const list = (await call('GET', '/v1/users/me/devices', { token: a.tokens.accessToken })).json()
          .devices as { id: string; name: string; current: boolean }[];
        expect(list.map((d) => d.name).sort()).to.deep.equal(['MacBook', 'Pixel 9']);
        expect(list.find((d) => d.current)?.name).to.equal('Pixel 9');
        const other = await register();
        const foreign = await call('DELETE', '/v1/users/me/devices/:id', {
          token: other.tokens.accessToken,
          params: { id: b.tokens.sessionId },
        });
        expect(foreign.json().code).to.equal('DEVICE_NOT_FOUND');
        expect(
          (
            await call('DELETE', '/v1/users/me/devices/:id', {
              token: a.tokens.accessToken,
              params: { id: b.tokens.sessionId },
            })
          ).statusCode,
        ).to.equal(204);
        expect((await call('GET', '/v1/users/me', { token: b.tokens.accessToken })).statusCode).to.equal(401);
        expect(
          (
            await call('DELETE', '/v1/users/me/devices/:id', {
              token: a.tokens.accessToken,
              params: { id: 'not-a-uuid' },
            })
          ).json().code,
        ).to.equal('VALIDATION_FAILED');
      });
    });

    describe('administration', () => {
      it('grants admin to no username, only through the one-time bootstrap secret (#15, finding 3)', async () => {
        // squatName is in AUTH_ADMIN_USERNAMES; the setting no longer grants anything.
        const squatter = await register(squatName);
        const roles = (await call('GET', '/v1/users/me', { token: squatter.tokens.accessToken })).json()
          .roles;
        expect(roles).to.deep.equal(['user']);
        const guess = await call('POST', '/v1/auth/admin-bootstrap', {
          token: squatter.tokens.accessToken,
          body: { secret: 'x'.repeat(48) },
        });
        expect(guess.statusCode).to.equal(403);
        expect(guess.json().code).to.equal('ADMIN_BOOTSTRAP_REFUSED');
        const a = await adminSession();
        expect((await call('GET', '/v1/users/me', { token: a.token })).json().roles).to.include('admin');
        // The secret worked once.
        const again = await call('POST', '/v1/auth/admin-bootstrap', {
          token: squatter.tokens.accessToken,
          body: { secret: bootstrapSecret },
        });
        expect(again.json().code).to.equal('ADMIN_BOOTSTRAP_REFUSED');
      });

      it('only admins may block; a blocked user loses sessions and gets ACCOUNT_BLOCKED', async () => {
        const adminToken = (await adminSession()).token;
        const victimName = uname();
        const victim = await register(victimName);
        const notAdmin = await call('POST', '/v1/admin/users/:id/block', {
          token: victim.tokens.accessToken,
          params: { id: victim.user.id },
          body: {},
        });
        expect(notAdmin.statusCode).to.equal(403);
        expect(notAdmin.json().code).to.equal('FORBIDDEN');
        const blocked = await call('POST', '/v1/admin/users/:id/block', {
          token: adminToken,
          params: { id: victim.user.id },
          body: { reason: 'spam' },
        });
        expect(blocked.json().status).to.equal('blocked');
        expect((await call('GET', '/v1/users/me', { token: victim.tokens.accessToken })).statusCode).to.equal(
          401,
        );
        const denied = await call('POST', '/v1/auth/login', {
          body: { login: victimName, password: PASSWORD },
        });
        expect(denied.statusCode).to.equal(403);
        expect(denied.json()).to.include({ code: 'ACCOUNT_BLOCKED', detail: 'spam' });
        await call('POST', '/v1/admin/users/:id/unblock', {
          token: adminToken,
          params: { id: victim.user.id },
          body: {},
        });
        expect(
          (await call('POST', '/v1/auth/login', { body: { login: victimName, password: PASSWORD } }))
            .statusCode,
        ).to.equal(200);
        expect(
          (
            await call('POST', '/v1/admin/users/:id/block', {
              token: adminToken,
              params: { id: randomUUID() },
              body: {},
            })
          ).json().code,
        ).to.equal('USER_NOT_FOUND');
      });
    });

    describe('metrics', () => {
      it('counts sign-ins by method and outcome, with every series present from start-up', async () => {
        const value = async (series: string) => {
          const text = await (await fetch(`${running.managementUrl}/metrics`)).text();
          const line = text.split('\n').find((l) => l.startsWith(series));
          return line === undefined ? undefined : Number(line.split(' ').pop());
        };
        const ok = 'parley_auth_logins_total{method="password",outcome="success",service="parley-auth"}';
        const bad = 'parley_auth_logins_total{method="password",outcome="invalid",service="parley-auth"}';
        expect(
          await value('parley_auth_logins_total{method="github",outcome="reused",service="parley-auth"}'),
        ).to.equal(0);
        const [ok0, bad0] = [(await value(ok))!, (await value(bad))!];
        const r = await register();
        await call('POST', '/v1/auth/login', { body: { login: r.user.username, password: PASSWORD } });
        await call('POST', '/v1/auth/login', {
          body: { login: r.user.username, password: 'wrong wrong wrong' },
        });
        expect(await value(ok)).to.equal(ok0 + 1);
        expect(await value(bad)).to.equal(bad0 + 1);
      });
    });

    describe('inactivity policy', () => {
      it('blocks users inactive past the threshold, never admins, and ends their sessions', async () => {
        const idle = await register();
        const active = await register();
        const store = await AuthStore.open(running.deps().store);
        const longAgo = Date.now() - 90 * 86_400_000;
        await store.updateUser(idle.user.id, { lastActiveAt: longAgo });
        const adminId = (await adminSession()).id;
        await store.updateUser(adminId, { lastActiveAt: longAgo });
        // A second replica with the policy on shares the store; its first sweep runs at start-up.
        const sweeper = await boot({
          INACTIVE_BLOCK_AFTER_DAYS: '30',
          INACTIVE_SWEEP_INTERVAL_SECONDS: '10',
        });
        try {
          // Blocking marks the user first, then ends each session: wait for both.
          await waitFor(
            async () =>
              (await store.userById(idle.user.id))?.status === 'blocked' &&
              (await store.activeSessions(idle.user.id, 0)).length === 0,
            {
              timeoutMs: 10_000,
              what: 'idle user blocked',
            },
          );
          expect((await store.userById(idle.user.id))?.blockedReason).to.equal('inactive');
          expect((await store.userById(active.user.id))?.status).to.equal('active');
          expect((await store.userById(adminId))?.status).to.equal('active');
          const denied = await call('POST', '/v1/auth/login', {
            body: { login: idle.user.username, password: PASSWORD },
          });
          expect(denied.json()).to.include({ code: 'ACCOUNT_BLOCKED', detail: 'inactive' });
          expect(
            (await call('POST', '/v1/auth/refresh', { body: { refreshToken: idle.tokens.refreshToken } }))
              .statusCode,
          ).to.equal(401);
        } finally {
          await sweeper.stop('test');
        }
      });
    });

    describe('events', () => {
      it('writes versioned envelopes to user.events keyed by user id', async () => {
        const seen: Record<string, unknown>[] = [];
        const sub = await running.deps().log.subscribe({
          groupId: `test-${randomUUID()}`,
          topics: ['user.events'],
          fromBeginning: true,
          handler: async (batch) =>
            void seen.push(
              ...batch.map((r) => ({ key: r.key, ...(JSON.parse(r.value.toString()) as object) })),
            ),
        });
        try {
          const r = await register();
          const ev = await waitFor(
            () =>
              seen.find(
                (e) => e.type === 'user.registered' && (e.data as { userId: string }).userId === r.user.id,
              ),
            {
              timeoutMs: 30_000,
              what: 'user.registered event',
            },
          );
          expect(ev).to.include({ key: r.user.id, version: 1 });
          expect(ev.id).to.be.a('string');
          expect(ev.occurredAt).to.be.a('string');
        } finally {
          await sub.stop();
        }
      });
    });

    it('documents every route it serves in a valid OpenAPI 3.1 document', async () => {
      const doc = await validOpenApi(running);
      expect(Object.keys(doc.paths)).to.include.members([
        '/v1/auth/register',
        '/v1/auth/login',
        '/v1/auth/refresh',
        '/.well-known/jwks.json',
        '/v1/users/me/devices/{id}',
      ]);
    });

    it('states in the document the bounds the validators enforce', async () => {
      const doc = (await running.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
      const body = (path: string, method: string) =>
        doc.paths[path][method].requestBody.content['application/json'].schema;
      expect(body('/v1/auth/register', 'post').properties.password).to.include({
        minLength: 10,
        maxLength: 256,
      });
      expect(body('/v1/users/me', 'patch')).to.include({ minProperties: 1 });
      expect(body('/v1/users/me', 'patch').properties.displayName).to.include({
        maxLength: 64,
        pattern: '\\S',
      });
      expect(doc.paths['/v1/auth/register'].post.responses['422'].description).to.equal(
        '`WEAK_PASSWORD`, `DISPLAY_NAME_IMPERSONATION`',
      );
      expect(doc.paths['/v1/users/me'].get.responses).to.have.property('431');
    });
  });
}
