import { TestSocket } from '@parley/common/testing';

// Test-side view of JSON answers: loose on purpose, each assertion names the fields it needs.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export interface User {
  id: string;
  username: string;
  token: string;
  refresh: string;
}

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
  const register = async (username: string): Promise<User> => {
    const r = await call('POST', '/v1/auth/register', undefined, {
      username,
      password: 'correct horse battery',
    });
    if (r.status !== 201) throw new Error(`register ${username}: ${r.status} ${JSON.stringify(r.body)}`);
    return {
      id: r.body.user.id,
      username,
      token: r.body.tokens.accessToken,
      refresh: r.body.tokens.refreshToken,
    };
  };
  return { call, register };
}

/** Sockets opened by a test, terminated together afterwards. */
export class SocketPool {
  readonly sockets: TestSocket[] = [];
  constructor(private readonly base: () => string) {}

  async connect(u: { token: string }): Promise<TestSocket> {
    const s = await TestSocket.bearer(this.base(), u.token);
    this.sockets.push(s);
    return s;
  }

  closeAll(): void {
    for (const s of this.sockets.splice(0)) s.ws.terminate();
  }
}
