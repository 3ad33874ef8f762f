import { createHash, randomBytes } from 'node:crypto';
import type { Cache } from '@parley/common';
import { authProblems } from '../errors.ts';
import { GithubError, type GithubApi } from './port.ts';

export interface GithubIdentity {
  id: string;
  login: string;
  name?: string | undefined;
  /** The primary email, only when GitHub says it is verified. */
  email?: string | undefined;
}

const STATE_TTL_MS = 10 * 60_000;

/** GitHub sign-in: authorization code + PKCE S256 + one-time state kept in the cache port, over the GitHub port. */
export class GithubOAuth {
  constructor(
    private readonly github: GithubApi,
    private readonly cache: Cache,
  ) {}

  /** The authorize URL to redirect the browser to. */
  async start(): Promise<string> {
    const state = randomBytes(24).toString('base64url');
    const verifier = randomBytes(48).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    await this.cache.set(`oauth-state:${state}`, verifier, { ttlMs: STATE_TTL_MS });
    return this.github.authorizeUrl({ scope: 'read:user user:email', state, codeChallenge: challenge });
  }

  /** Exchanges the code; the state is single-use, so a replayed callback fails. */
  async finish(code: string, state: string): Promise<GithubIdentity> {
    const key = `oauth-state:${state}`;
    const verifier = await this.cache.get(key);
    if (!verifier || !(await this.cache.deleteIfEquals(key, verifier)))
      throw authProblems.OAUTH_FAILED('unknown or expired state; start again');
    try {
      const token = await this.github.exchangeCode(code, verifier);
      const user = await this.github.user(token);
      let email: string | undefined;
      try {
        email = (await this.github.emails(token)).find((e) => e.primary && e.verified)?.email;
      } catch {
        email = undefined; // the user:email scope may be declined; the account works without it
      }
      return { id: String(user.id), login: user.login, name: user.name ?? undefined, email };
    } catch (err) {
      if (err instanceof GithubError) throw authProblems.OAUTH_FAILED(err.message);
      throw err;
    }
  }
}
