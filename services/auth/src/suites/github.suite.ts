import { expect } from 'chai';
import { randomInt } from 'node:crypto';
import { type TestResponse } from '@parley/common/testing';
import { uname, type AuthHarness } from '../testing/harness.ts';

/* The auth service over HTTP (GitHub sign-in through the local fake GitHub); composed into one suite by ../auth.suite.ts. */

export function githubCases(h: AuthHarness): void {
  const { call } = h;
  describe('GitHub sign-in', () => {
    async function flow(): Promise<TestResponse> {
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
      h.github.user = {
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
        email: h.github.user.emails[0]!.email,
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
}
