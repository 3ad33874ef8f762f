import { expect } from 'chai';
import { randomBytes, randomInt } from 'node:crypto';
import { PASSWORD, uname, type AuthHarness } from '../testing/harness.ts';

/* The auth service over HTTP (profiles, public keys and devices); composed into one suite by ../auth.suite.ts. */

export function profileCases(h: AuthHarness): void {
  const { call, register } = h;
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
}
