import { createHash, randomBytes } from 'node:crypto';
import type { Cache } from '@parley/common';
import { authProblems } from './errors.ts';

export interface GithubOptions {
  clientId: string;
  clientSecret: string;
  redirectUrl: string;
  webUrl: string;
  apiUrl: string;
  fetch?: typeof fetch;
}

export interface GithubIdentity {
  id: string;
  login: string;
  name?: string | undefined;
  /** The primary email, only when GitHub says it is verified. */
  email?: string | undefined;
}

const STATE_TTL_MS = 10 * 60_000;

/** GitHub OAuth (authorization code + PKCE S256 + one-time state kept in the cache port). */
export class GithubOAuth {
  private readonly fetch: typeof fetch;

  constructor(
    private readonly opts: GithubOptions,
    private readonly cache: Cache,
  ) {
    this.fetch = opts.fetch ?? fetch;
  }

  /** The authorize URL to redirect the browser to. */
  async start(): Promise<string> {
    const state = randomBytes(24).toString('base64url');
    const verifier = randomBytes(48).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    await this.cache.set(`oauth-state:${state}`, verifier, { ttlMs: STATE_TTL_MS });
    const u = new URL('/login/oauth/authorize', this.opts.webUrl);
    u.search = new URLSearchParams({
      client_id: this.opts.clientId,
      redirect_uri: this.opts.redirectUrl,
      scope: 'read:user user:email',
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      allow_signup: 'true',
    }).toString();
    return u.toString();
  }

  /** Exchanges the code; the state is single-use, so a replayed callback fails. */
  async finish(code: string, state: string): Promise<GithubIdentity> {
    const key = `oauth-state:${state}`;
    const verifier = await this.cache.get(key);
    if (!verifier || !(await this.cache.deleteIfEquals(key, verifier)))
      throw authProblems.OAUTH_FAILED('unknown or expired state; start again');
    const tokenRes = await this.call(new URL('/login/oauth/access_token', this.opts.webUrl), {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: this.opts.clientId,
        client_secret: this.opts.clientSecret,
        code,
        redirect_uri: this.opts.redirectUrl,
        code_verifier: verifier,
      }),
    });
    const token = tokenRes as { access_token?: string; error?: string; error_description?: string };
    if (!token.access_token)
      throw authProblems.OAUTH_FAILED(`GitHub refused the code: ${token.error ?? 'no access token'}`);
    const auth = {
      authorization: `Bearer ${token.access_token}`,
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
    };
    const user = (await this.call(new URL('/user', this.opts.apiUrl), { headers: auth })) as {
      id?: number;
      login?: string;
      name?: string | null;
    };
    if (typeof user.id !== 'number' || typeof user.login !== 'string')
      throw authProblems.OAUTH_FAILED('unexpected /user answer');
    let email: string | undefined;
    try {
      const emails = (await this.call(new URL('/user/emails', this.opts.apiUrl), { headers: auth })) as {
        email: string;
        primary: boolean;
        verified: boolean;
      }[];
      email = Array.isArray(emails) ? emails.find((e) => e.primary && e.verified)?.email : undefined;
    } catch {
      email = undefined; // the user:email scope may be declined; the account works without it
    }
    return { id: String(user.id), login: user.login, name: user.name ?? undefined, email };
  }

  private async call(url: URL, init: RequestInit): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    } catch {
      throw authProblems.OAUTH_FAILED('GitHub is unreachable');
    }
    if (!res.ok) throw authProblems.OAUTH_FAILED(`GitHub answered ${res.status} for ${url.pathname}`);
    return res.json();
  }
}
