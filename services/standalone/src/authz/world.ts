import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { generateSigningJwk } from '@parley/auth';
import type { Running } from '@parley/common';
import { restClient, type Json, type TestSocket, type User } from '@parley/common/testing';
import { decodeJwt, importJWK, SignJWT, type JWK } from 'jose';
import { startEmbedded } from '../testkit.ts';
import { SECRET, SECRETS, type World } from './rows.ts';

export const PROBLEM_FIELDS = [
  'type',
  'title',
  'status',
  'code',
  'detail',
  'instance',
  'requestId',
  'errors',
];
export const BOOTSTRAP_SECRET = 'authz-bootstrap-secret-0123456789abcdef';

export type Doc = {
  paths: Record<
    string,
    Record<string, { security?: unknown[]; responses: Record<string, { description: string }> }>
  >;
};

/**
 * The authorization matrix's world for the enclosing mocha `describe`: an embedded Parley with
 * alice, bob, carol, mallory and root, alice's group, direct chat and secret message, every kind of
 * bad token, and the helpers that call it and check refusals. Its hooks start it before the tests
 * and stop it after; `base`, `doc` and `running` are set once started.
 */
export function authzWorld() {
  let running: Running;
  let stop: (() => Promise<void>) | undefined;
  let base: string;
  let jwk: JWK;
  let doc: Doc;
  const w = { users: {} } as World;
  const badTokens: Record<string, string | undefined> = {};
  const sockets: TestSocket[] = [];
  const { register } = restClient(() => base);

  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      redirect: 'manual',
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text };
  };
  const json = async (method: string, path: string, token?: string, body?: unknown): Promise<Json> => {
    const r = await call(method, path, token, body);
    expect(r.status, `${method} ${path}: ${r.text}`).to.be.within(200, 299);
    return r.text ? (JSON.parse(r.text) as Json) : {};
  };
  const sign = async (
    claims: { sub: string; sid: string },
    opts: { aud?: string; iss?: string; exp?: number; iat?: number; typ?: string },
  ) =>
    new SignJWT({ sid: claims.sid, roles: ['user', 'admin'] })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'authz-key', typ: opts.typ ?? 'at+jwt' })
      .setSubject(claims.sub)
      .setIssuer(opts.iss ?? 'parley-auth')
      .setAudience(opts.aud ?? 'parley')
      .setIssuedAt(opts.iat ?? Math.floor(Date.now() / 1000))
      .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 600)
      .setJti(randomUUID())
      .sign(await importJWK(jwk, 'EdDSA'));

  /** The document's error descriptions list the codes of each status in backticks. */
  const documented = (method: string, route: string, status: number, code?: string) => {
    const op = doc.paths[route]![method.toLowerCase()]!;
    const r = op.responses[String(status)];
    expect(r, `${method} ${route} does not document ${status}`).to.not.equal(undefined);
    if (code)
      expect(r!.description, `${method} ${route} ${status} does not list ${code}`).to.include(`\`${code}\``);
  };
  /** A refused answer: problem+json with the exact status and code, and nothing but the problem. */
  const refused = (
    r: { status: number; type: string; text: string },
    status: number,
    code: string,
    what: string,
  ) => {
    expect(r.status, `${what}: ${r.text}`).to.equal(status);
    expect(r.type, what).to.match(/^application\/problem\+json/);
    const body = JSON.parse(r.text) as Json;
    expect(body.code, what).to.equal(code);
    expect(
      Object.keys(body).filter((k) => !PROBLEM_FIELDS.includes(k)),
      what,
    ).to.deep.equal([]);
    noSecrets(r.text, what);
  };
  const noSecrets = (text: string, what: string) => {
    for (const s of SECRETS) expect(text, `${what} leaks "${s}"`).to.not.include(s);
  };

  before(async () => {
    jwk = await generateSigningJwk('authz-key');
    ({ running, stop } = await startEmbedded('authz', {
      JWT_SIGNING_KEYS: JSON.stringify([jwk]),
      // Ignored since #15: a name listed here is squattable, so it grants nothing (see the squatting case).
      AUTH_ADMIN_USERNAMES: 'root,boss',
      AUTH_ADMIN_BOOTSTRAP_SECRET: BOOTSTRAP_SECRET,
      LOGIN_PROOF_OF_WORK_BITS: '8',
      LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY: '3',
      WS_AUTH_TIMEOUT_MS: '500',
      RATE_LIMIT_PER_MINUTE: '100000',
      SEND_RATE_PER_MINUTE: '100000',
      RATE_LIMIT_REGISTER_PER_15MIN: '1000',
    }));
    base = running.url;
    doc = (await json('GET', '/v1/openapi.json')) as Doc;
    const u = w.users;
    u.alice = await register({
      username: 'alice',
      email: SECRET.email,
      device: { name: SECRET.device, platform: 'linux' },
    });
    [u.bob, u.carol, u.mallory, u.root] = (await Promise.all(
      ['bob', 'carol', 'mallory', 'root'].map((n) => register(n)),
    )) as [User, User, User, User];
    // root becomes admin the only way there is: the one-time bootstrap secret, then new tokens.
    await json('POST', '/v1/auth/admin-bootstrap', u.root.token, { secret: BOOTSTRAP_SECRET });
    const rootLogin = await json('POST', '/v1/auth/login', undefined, {
      login: 'root',
      password: 'correct horse battery',
    });
    u.root = {
      ...u.root,
      token: rootLogin.tokens.accessToken,
      refresh: rootLogin.tokens.refreshToken,
      sid: String(decodeJwt(rootLogin.tokens.accessToken).sid),
    };
    w.bobDevice = (await json('GET', '/v1/users/me/devices', u.bob.token)).devices[0].id;
    w.group = (
      await json('POST', '/v1/conversations', u.alice.token, {
        type: 'group',
        title: SECRET.title,
        members: ['bob', 'carol'],
      })
    ).id;
    w.direct = (
      await json('POST', '/v1/conversations', u.alice.token, { type: 'direct', members: ['bob'] })
    ).id;
    // alice's attachment (a PDF holding the secret word), sent with the message, and an upload in progress.
    const form = new FormData();
    form.set('conversationId', w.group);
    form.set('file', new Blob([`%PDF-1.7\n${SECRET.body}\n`]), 'vault.pdf');
    const up = await fetch(`${base}/v1/media`, {
      method: 'POST',
      headers: { authorization: `Bearer ${u.alice.token}` },
      body: form,
    });
    w.attachment = ((await up.json()) as { id: string }).id;
    w.upload = (
      await json('POST', '/v1/media/uploads', u.alice.token, {
        conversationId: w.group,
        filename: 'big.bin',
        size: 10,
      })
    ).attachment.id;
    const sent = await json('POST', `/v1/conversations/${w.group}/messages?wait=persisted`, u.alice.token, {
      clientMsgId: 'secret-1',
      body: SECRET.body,
      attachments: [w.attachment],
    });
    [w.message, w.seq] = [sent.id, sent.seq];
    await json('PUT', `/v1/messages/${w.message}/star`, u.carol.token);
    await json('DELETE', `/v1/conversations/${w.group}/members/${u.carol.id}`, u.alice.token);

    // Every way a token can be wrong, each for alice (the victim with the most to lose).
    const parts = u.alice.token.split('.');
    const flip = (s: string) => (s[5] === 'A' ? 'B' : 'A');
    const revoked = await register('revoked_user');
    await json('POST', '/v1/auth/logout', revoked.token, {});
    const mine = { sub: u.alice.id, sid: u.alice.sid };
    Object.assign(badTokens, {
      'no token': undefined,
      'not a JWT': 'not-a-jwt',
      'forged signature': `${parts[0]}.${parts[1]}.${parts[2]!.slice(0, 5)}${flip(parts[2]!)}${parts[2]!.slice(6)}`,
      'tampered payload (admin role)': `${parts[0]}.${Buffer.from(
        JSON.stringify({ ...decodeJwt(u.alice.token), roles: ['user', 'admin'] }),
      ).toString('base64url')}.${parts[2]}`,
      'alg none': `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${parts[1]}.`,
      expired: await sign(mine, { exp: Math.floor(Date.now() / 1000) - 60 }),
      'other audience': await sign(mine, { aud: 'someone-else' }),
      'other issuer': await sign(mine, { iss: 'evil-auth' }),
      'issued in the future (#15)': await sign(mine, { iat: Math.floor(Date.now() / 1000) + 600 }),
      'no at+jwt typ header (#15)': await sign(mine, { typ: 'JWT' }),
      'revoked session': revoked.token,
    });
  });
  afterEach(() => {
    for (const s of sockets.splice(0)) s.ws.terminate();
  });
  after(async () => {
    await stop?.();
  });

  return {
    w,
    badTokens,
    sockets,
    call,
    json,
    register,
    documented,
    refused,
    noSecrets,
    get base() {
      return base;
    },
    get doc() {
      return doc;
    },
    get running() {
      return running;
    },
  };
}
