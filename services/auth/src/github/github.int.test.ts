import { expect } from 'chai';
import { FakeGithub } from '../testing/fake-github.ts';
import { githubContract } from './contract.ts';
import { GithubHttpApi } from './http.ts';
import type { GithubError } from './port.ts';

const options = (fake: FakeGithub, url: string) => ({
  clientId: fake.clientId,
  clientSecret: fake.clientSecret,
  redirectUrl: 'http://127.0.0.1:1/v1/auth/github/callback',
  webUrl: url,
  apiUrl: url,
});

// GitHub is third-party SaaS: its adapter runs against a local server speaking GitHub's API.
githubContract('HTTP (against a local fake of its API)', async () => {
  const fake = new FakeGithub();
  const url = await fake.start();
  return {
    github: new GithubHttpApi(options(fake, url)),
    signIn: (user) => (fake.user = user),
    authorize: async (authorizeUrl) => {
      const back = await fetch(authorizeUrl, { redirect: 'manual' });
      const cb = new URL(back.headers.get('location')!);
      return { code: cb.searchParams.get('code')!, state: cb.searchParams.get('state')! };
    },
    close: () => fake.stop(),
  };
});

describe('GithubHttpApi error mapping', () => {
  it('maps an unreachable GitHub to UNAVAILABLE', async () => {
    const fake = new FakeGithub();
    const github = new GithubHttpApi(options(fake, 'http://127.0.0.1:9'));
    const err = await github.exchangeCode('code', 'verifier').catch((e: unknown) => e);
    expect(err).to.include({ code: 'UNAVAILABLE', message: 'GitHub is unreachable' });
    expect(((await github.user('t').catch((e: unknown) => e)) as GithubError).code).to.equal('UNAVAILABLE');
  });

  it('maps a client secret GitHub does not know to REFUSED', async () => {
    const fake = new FakeGithub();
    const url = await fake.start();
    try {
      const github = new GithubHttpApi({ ...options(fake, url), clientSecret: 'wrong' });
      const back = await fetch(github.authorizeUrl({ scope: 'read:user', state: 's', codeChallenge: 'c' }), {
        redirect: 'manual',
      });
      const code = new URL(back.headers.get('location')!).searchParams.get('code')!;
      const err = await github.exchangeCode(code, 'verifier').catch((e: unknown) => e);
      expect(err).to.include({ code: 'REFUSED', message: 'GitHub refused the code: bad_verification_code' });
    } finally {
      await fake.stop();
    }
  });
});
