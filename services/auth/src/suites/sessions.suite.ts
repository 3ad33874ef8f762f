import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { base64url, generateKeyPair, SignJWT } from 'jose';
import { generateSigningJwk } from '../keys.ts';
import { PASSWORD, uname, type AuthHarness } from '../testing/harness.ts';

/* The auth service over HTTP (tokens, sessions and the signing keys); composed into one suite by ../auth.suite.ts. */

export function sessionCases(h: AuthHarness): void {
  const { call, register } = h;
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
        [1, 2].map(() => call('POST', '/v1/auth/refresh', { body: { refreshToken: r.tokens.refreshToken } })),
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
      const b = (await call('POST', '/v1/auth/login', { body: { login: name, password: PASSWORD } })).json();
      const c = (await call('POST', '/v1/auth/login', { body: { login: name, password: PASSWORD } })).json();
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
      const restarted = await h.boot();
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
          const res = await h.running.inject({
            method: 'GET',
            url: '/v1/users/me',
            headers: { authorization: `${scheme} ${good}` },
          });
          expect(res.statusCode, scheme).to.equal(200);
        }
      });

      it('rejects a missing or non-bearer authorization', async () => {
        expect((await call('GET', '/v1/users/me')).json().code).to.equal('UNAUTHENTICATED');
        const res = await h.running.inject({
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
        const key = JSON.parse(h.keysJson)[0];
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
        const priv = await importJWK(JSON.parse(h.keysJson)[0], 'EdDSA');
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
      const rotated = await h.boot({ JWT_SIGNING_KEYS: JSON.stringify([newKey, ...JSON.parse(h.keysJson)]) });
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
}
