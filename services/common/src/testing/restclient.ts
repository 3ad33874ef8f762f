import { decodeJwt } from 'jose';

// Test-side view of JSON answers: loose on purpose, each assertion names the fields it needs.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

/** A registered test user and its tokens. */
export interface User {
  id: string;
  username: string;
  token: string;
  refresh: string;
  /** The session id: the access token's `sid` claim. */
  sid: string;
}

/** The password every test user registers with. */
export const TEST_PASSWORD = 'correct horse battery';

/** A REST caller for tests against a running Parley at `base`. */
export function restClient(base: () => string) {
  const call = async (
    method: string,
    path: string,
    token?: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(base() + path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Json };
  };
  /** Registers a user by name, or with more fields of the register body (email, device…). */
  const register = async (who: string | (Json & { username: string })): Promise<User> => {
    const { username, ...extra } = typeof who === 'string' ? { username: who } : who;
    const r = await call('POST', '/v1/auth/register', undefined, {
      username,
      password: TEST_PASSWORD,
      ...extra,
    });
    if (r.status !== 201) throw new Error(`register ${username}: ${r.status} ${JSON.stringify(r.body)}`);
    const token = r.body.tokens.accessToken as string;
    return {
      id: r.body.user.id,
      username,
      token,
      refresh: r.body.tokens.refreshToken,
      sid: String(decodeJwt(token).sid),
    };
  };
  return { call, register };
}
