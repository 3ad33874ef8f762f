import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeGithubUser {
  id: number;
  login: string;
  name: string | null;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

/**
 * A local stand-in for GitHub's OAuth web flow and REST API with the real endpoints' shapes:
 * GET /login/oauth/authorize (redirects back with code and state), POST
 * /login/oauth/access_token (JSON, checks client secret, redirect_uri and the PKCE verifier),
 * GET /user and GET /user/emails (Bearer token, User-Agent required). Behind the GitHub port's
 * contract (github/contract.ts) and the auth service's HTTP suite.
 */
export class FakeGithub {
  readonly clientId = 'Iv1.' + randomBytes(8).toString('hex');
  readonly clientSecret = randomBytes(20).toString('hex');
  /** Who "signs in" on the next authorize. */
  user: FakeGithubUser = {
    id: 1001,
    login: 'octocat',
    name: 'The Octocat',
    emails: [{ email: 'octocat@github.com', primary: true, verified: true }],
  };
  private readonly codes = new Map<
    string,
    { challenge: string; redirectUri: string; user: FakeGithubUser }
  >();
  private readonly tokens = new Map<string, FakeGithubUser>();
  private server?: Server;
  url = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () =>
        this.handle(
          req.method ?? 'GET',
          new URL(req.url ?? '/', this.url),
          req.headers,
          Buffer.concat(chunks).toString(),
          res,
        ),
      );
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private handle(
    method: string,
    url: URL,
    headers: Record<string, string | string[] | undefined>,
    body: string,
    res: ServerResponse,
  ): void {
    const json = (status: number, b: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(b));
    };
    if (method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const p = url.searchParams;
      if (
        p.get('client_id') !== this.clientId ||
        p.get('code_challenge_method') !== 'S256' ||
        !p.get('code_challenge')
      )
        return json(400, { error: 'bad authorize request' });
      const code = randomBytes(10).toString('hex');
      this.codes.set(code, {
        challenge: p.get('code_challenge')!,
        redirectUri: p.get('redirect_uri')!,
        user: this.user,
      });
      const back = new URL(p.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', p.get('state') ?? '');
      res.writeHead(302, { location: back.toString() });
      return void res.end();
    }
    if (method === 'POST' && url.pathname === '/login/oauth/access_token') {
      // GitHub takes the parameters as JSON or as a form.
      const b = String(headers['content-type'] ?? '').includes('application/json')
        ? (JSON.parse(body || '{}') as Record<string, string>)
        : Object.fromEntries(new URLSearchParams(body));
      const grant = this.codes.get(b.code ?? '');
      // GitHub answers 200 with an error field for a bad code.
      if (!grant || b.client_id !== this.clientId || b.client_secret !== this.clientSecret)
        return json(200, {
          error: 'bad_verification_code',
          error_description: 'The code passed is incorrect or expired.',
        });
      this.codes.delete(b.code!);
      const challenge = createHash('sha256')
        .update(b.code_verifier ?? '')
        .digest('base64url');
      if (challenge !== grant.challenge || b.redirect_uri !== grant.redirectUri)
        return json(200, { error: 'bad_verification_code', error_description: 'PKCE verification failed.' });
      const token = 'gho_' + randomBytes(16).toString('hex');
      this.tokens.set(token, grant.user);
      const answer = { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' };
      // Without Accept: application/json, GitHub answers form-encoded.
      if (!String(headers.accept ?? '').includes('application/json')) {
        res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
        return void res.end(new URLSearchParams(answer).toString());
      }
      return json(200, answer);
    }
    const auth = String(headers.authorization ?? '');
    const user = this.tokens.get(auth.replace(/^Bearer /, ''));
    if (url.pathname === '/user' || url.pathname === '/user/emails') {
      // The REST API refuses requests without a User-Agent.
      if (!headers['user-agent'])
        return json(403, {
          message:
            'Request forbidden by administrative rules. Please make sure your request has a User-Agent header',
        });
      if (!user)
        return json(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      if (url.pathname === '/user')
        return json(200, { id: user.id, login: user.login, name: user.name, type: 'User' });
      return json(
        200,
        user.emails.map((e) => ({ ...e, visibility: e.primary ? 'public' : null })),
      );
    }
    json(404, { message: 'Not Found' });
  }
}
