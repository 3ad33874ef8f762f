import { GithubError, type GithubApi, type GithubEmail, type GithubUser } from './port.ts';

export interface GithubHttpOptions {
  clientId: string;
  clientSecret: string;
  /** Our callback, registered with the OAuth app. */
  redirectUrl: string;
  /** https://github.com, a GitHub Enterprise host, or a local fake speaking GitHub's API. */
  webUrl: string;
  /** https://api.github.com, or the same alternatives. */
  apiUrl: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** The production GitHub adapter: GitHub's OAuth endpoints and REST API over HTTPS. */
export class GithubHttpApi implements GithubApi {
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: GithubHttpOptions) {
    this.fetch = opts.fetch ?? fetch;
  }

  authorizeUrl(req: { scope: string; state: string; codeChallenge: string }): string {
    const u = new URL('/login/oauth/authorize', this.opts.webUrl);
    u.search = new URLSearchParams({
      client_id: this.opts.clientId,
      redirect_uri: this.opts.redirectUrl,
      scope: req.scope,
      state: req.state,
      code_challenge: req.codeChallenge,
      code_challenge_method: 'S256',
      allow_signup: 'true',
    }).toString();
    return u.toString();
  }

  async exchangeCode(code: string, codeVerifier: string): Promise<string> {
    const token = (await this.call(new URL('/login/oauth/access_token', this.opts.webUrl), {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: this.opts.clientId,
        client_secret: this.opts.clientSecret,
        code,
        redirect_uri: this.opts.redirectUrl,
        code_verifier: codeVerifier,
      }),
    })) as { access_token?: string; error?: string; error_description?: string };
    // GitHub answers a bad code with 200 and an error field.
    if (!token.access_token)
      throw new GithubError('REFUSED', `GitHub refused the code: ${token.error ?? 'no access token'}`);
    return token.access_token;
  }

  async user(token: string): Promise<GithubUser> {
    const user = (await this.call(new URL('/user', this.opts.apiUrl), { headers: this.auth(token) })) as {
      id?: number;
      login?: string;
      name?: string | null;
    };
    if (typeof user.id !== 'number' || typeof user.login !== 'string')
      throw new GithubError('UNEXPECTED', 'unexpected /user answer');
    return { id: user.id, login: user.login, name: user.name ?? null };
  }

  async emails(token: string): Promise<GithubEmail[]> {
    const emails = await this.call(new URL('/user/emails', this.opts.apiUrl), { headers: this.auth(token) });
    if (!Array.isArray(emails)) throw new GithubError('UNEXPECTED', 'unexpected /user/emails answer');
    return (emails as Partial<GithubEmail>[])
      .filter((e) => typeof e?.email === 'string')
      .map((e) => ({ email: e.email!, primary: e.primary === true, verified: e.verified === true }));
  }

  private auth(token: string): Record<string, string> {
    return {
      authorization: `Bearer ${token}`,
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
    };
  }

  private async call(url: URL, init: RequestInit): Promise<unknown> {
    let res: Response;
    try {
      res = await this.fetch(url, { ...init, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000) });
    } catch {
      throw new GithubError('UNAVAILABLE', 'GitHub is unreachable');
    }
    if (!res.ok)
      throw new GithubError(
        res.status >= 500 ? 'UNAVAILABLE' : 'REFUSED',
        `GitHub answered ${res.status} for ${url.pathname}`,
      );
    return res.json();
  }
}
