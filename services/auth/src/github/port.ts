/**
 * The GitHub port: the part of GitHub's OAuth web flow and REST API that sign-in uses. GitHub's
 * HTTP API in production (and, in tests, a local server speaking the same API); see http.ts.
 */
export interface GithubApi {
  /** The authorize page to send the browser to (OAuth web flow, PKCE S256). */
  authorizeUrl(req: { scope: string; state: string; codeChallenge: string }): string;
  /** Trades an authorization code and its PKCE verifier for an access token (POST /login/oauth/access_token). */
  exchangeCode(code: string, codeVerifier: string): Promise<string>;
  /** The signed-in user (GET /user). */
  user(token: string): Promise<GithubUser>;
  /** The user's addresses (GET /user/emails; needs the user:email scope). */
  emails(token: string): Promise<GithubEmail[]>;
}

export interface GithubUser {
  id: number;
  login: string;
  name: string | null;
}

export interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

/** REFUSED: GitHub said no (bad code, bad token, 4xx); UNAVAILABLE: unreachable or 5xx; UNEXPECTED: an answer of another shape. */
export type GithubErrorCode = 'REFUSED' | 'UNAVAILABLE' | 'UNEXPECTED';

export class GithubError extends Error {
  constructor(
    readonly code: GithubErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'GithubError';
  }
}
