import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { adapterUnderTest } from '@parley/common/testing';
import { GithubError, type GithubApi, type GithubUser } from './port.ts';

/**
 * The cases every GitHub adapter must pass. `signIn` sets who signs in at the authorize page;
 * `authorize` follows an authorize URL as the browser would and returns the code GitHub hands back.
 */
export function githubContract(
  name: string,
  open: () => Promise<{
    github: GithubApi;
    signIn: (user: GithubUser & { emails: { email: string; primary: boolean; verified: boolean }[] }) => void;
    authorize: (url: string) => Promise<{ code: string; state: string }>;
    close?: () => Promise<void>;
  }>,
): void {
  describe(`GitHub contract: ${name}`, () => {
    const adapter = adapterUnderTest(open);

    const pkce = () => {
      const verifier = randomBytes(48).toString('base64url');
      return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
    };
    const refusal = async (p: Promise<unknown>) => {
      const err = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(GithubError);
      return err as GithubError;
    };

    it('builds an authorize URL with the state and an S256 challenge', () => {
      const url = new URL(
        adapter().github.authorizeUrl({ scope: 'read:user user:email', state: 's1', codeChallenge: 'c1' }),
      );
      expect(url.pathname).to.equal('/login/oauth/authorize');
      expect(Object.fromEntries(url.searchParams)).to.include({
        scope: 'read:user user:email',
        state: 's1',
        code_challenge: 'c1',
        code_challenge_method: 'S256',
      });
      expect(url.searchParams.get('client_id')).to.match(/./);
      expect(url.searchParams.get('redirect_uri')).to.match(/^https?:\/\//);
    });

    it('trades a code and its verifier for a token that reads the user and their emails', async () => {
      adapter().signIn({
        id: 4242,
        login: 'Mona',
        name: null,
        emails: [
          { email: 'mona@example.com', primary: true, verified: true },
          { email: 'old@example.com', primary: false, verified: false },
        ],
      });
      const { verifier, challenge } = pkce();
      const { code, state } = await adapter().authorize(
        adapter().github.authorizeUrl({
          scope: 'read:user user:email',
          state: 'st-1',
          codeChallenge: challenge,
        }),
      );
      expect(state).to.equal('st-1');
      const token = await adapter().github.exchangeCode(code, verifier);
      expect(await adapter().github.user(token)).to.deep.equal({ id: 4242, login: 'Mona', name: null });
      expect(await adapter().github.emails(token)).to.deep.equal([
        { email: 'mona@example.com', primary: true, verified: true },
        { email: 'old@example.com', primary: false, verified: false },
      ]);
    });

    it('refuses a code with the wrong verifier, and a code twice', async () => {
      const first = pkce();
      const a = await adapter().authorize(
        adapter().github.authorizeUrl({ scope: 'read:user', state: 'st-2', codeChallenge: first.challenge }),
      );
      expect((await refusal(adapter().github.exchangeCode(a.code, pkce().verifier))).code).to.equal(
        'REFUSED',
      );
      const b = await adapter().authorize(
        adapter().github.authorizeUrl({ scope: 'read:user', state: 'st-3', codeChallenge: first.challenge }),
      );
      await adapter().github.exchangeCode(b.code, first.verifier);
      const again = await refusal(adapter().github.exchangeCode(b.code, first.verifier));
      expect(again).to.include({
        code: 'REFUSED',
        message: 'GitHub refused the code: bad_verification_code',
      });
    });

    it('refuses an unknown token', async () => {
      const err = await refusal(adapter().github.user('gho_not-a-token'));
      expect(err).to.include({ code: 'REFUSED', message: 'GitHub answered 401 for /user' });
      expect((await refusal(adapter().github.emails('gho_not-a-token'))).code).to.equal('REFUSED');
    });
  });
}
