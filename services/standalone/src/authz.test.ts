import { expect } from 'chai';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningJwk } from '@parley/auth';
import { waitFor, type Running } from '@parley/common';
import { clientFrameTypes } from '../../message/src/gateway/protocol.ts';
import { TestSocket, wsUrl, type Frame } from '@parley/common/testing';
import { decodeJwt, importJWK, SignJWT, type JWK } from 'jose';
import { runStandalone } from './app.ts';

// Test-side view of JSON answers: loose on purpose, each assertion names the fields it needs.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/**
 * The authorization matrix (#8): every REST operation of the served OpenAPI document and every
 * WebSocket client frame type, called by someone who is not allowed, gets the documented error
 * (exact status and `code`, listed in the document for that status) and no data. A new operation
 * or frame type without a row here fails the enumeration test.
 */

interface User {
  id: string;
  username: string;
  token: string;
  refresh: string;
  sid: string;
}
type Who = 'alice' | 'bob' | 'carol' | 'mallory' | 'root';

/** Words that only the victims' data contains: no refused answer may carry one. */
const SECRET = {
  title: 'Operation Nightjar',
  body: 'the vault code is quokka-7741',
  word: 'quokka',
  email: 'alice.private@example.com',
  device: 'alices-secret-laptop',
};
const SECRETS = [SECRET.title, SECRET.body, SECRET.word, SECRET.email, SECRET.device];

interface World {
  users: Record<Who, User>;
  group: string; // alice owns it; bob is a member; carol was removed; mallory never joined
  direct: string; // alice ↔ bob
  message: string; // alice's message in the group (body SECRET.body)
  seq: number;
  bobDevice: string;
}

interface Req {
  path: string;
  body?: unknown;
}
/** A refused call: who makes it, why it must fail, and the exact answer. */
interface Denial {
  as: Who;
  why: string;
  status: number;
  code?: string;
  /** For 2xx "no data" rows: the answer succeeds but must not contain the secrets. */
  req?: (w: World) => Req;
}
interface Op {
  /** The request with the victims' ids; denials reuse it unless they bring their own. */
  req: (w: World) => Req;
  denials: Denial[];
}

const nonMember = (code: string): Denial => ({ as: 'mallory', why: 'not a member', status: 404, code });
const removed = (code: string): Denial => ({ as: 'carol', why: 'removed from the group', status: 404, code });
const byRole = (as: Who, why: string): Denial => ({ as, why, status: 403, code: 'NOT_ALLOWED_BY_ROLE' });
const g = (w: World, rest = '') => ({ path: `/v1/conversations/${w.group}${rest}` });
const m = (w: World, rest = '') => ({ path: `/v1/messages/${w.message}${rest}` });
const THUMBS = encodeURIComponent('👍');

/** Operations that need a bearer token (the document's global security), keyed `METHOD path`. */
const SECURED: Record<string, Op> = {
  'POST /v1/auth/logout': { req: () => ({ path: '/v1/auth/logout', body: {} }), denials: [] },
  'POST /v1/auth/logout-all': { req: () => ({ path: '/v1/auth/logout-all', body: {} }), denials: [] },
  'GET /v1/users/me': { req: () => ({ path: '/v1/users/me' }), denials: [] },
  'PATCH /v1/users/me': { req: () => ({ path: '/v1/users/me', body: { displayName: 'x' } }), denials: [] },
  'GET /v1/users/me/devices': { req: () => ({ path: '/v1/users/me/devices' }), denials: [] },
  'DELETE /v1/users/me/devices/{id}': {
    req: (w) => ({ path: `/v1/users/me/devices/${w.bobDevice}` }),
    denials: [{ as: 'alice', why: "someone else's device", status: 404, code: 'DEVICE_NOT_FOUND' }],
  },
  'PUT /v1/users/me/public-key': {
    req: () => ({ path: '/v1/users/me/public-key', body: { publicKey: 'a'.repeat(44) } }),
    denials: [],
  },
  'GET /v1/users/{username}': {
    req: (w) => ({ path: `/v1/users/${w.users.alice.username}` }),
    denials: [{ as: 'mallory', why: 'public profile carries no email, phone or devices', status: 200 }],
  },
  'GET /v1/users/{username}/public-key': {
    req: (w) => ({ path: `/v1/users/${w.users.alice.username}/public-key` }),
    denials: [],
  },
  'POST /v1/users/me/phone/verification': {
    // Only ever about the caller's own pending number.
    req: () => ({ path: '/v1/users/me/phone/verification', body: {} }),
    denials: [],
  },
  'POST /v1/users/me/phone/verify': {
    req: () => ({ path: '/v1/users/me/phone/verify', body: { code: '000000' } }),
    denials: [],
  },
  'POST /v1/auth/admin-bootstrap': {
    req: () => ({ path: '/v1/auth/admin-bootstrap', body: { secret: 'not the bootstrap secret' } }),
    denials: [
      { as: 'mallory', why: 'guesses the bootstrap secret', status: 403, code: 'ADMIN_BOOTSTRAP_REFUSED' },
    ],
  },
  'POST /v1/admin/users/{id}/block': {
    req: (w) => ({ path: `/v1/admin/users/${w.users.bob.id}/block`, body: {} }),
    denials: [{ as: 'alice', why: 'not an admin', status: 403, code: 'FORBIDDEN' }],
  },
  'POST /v1/admin/users/{id}/unblock': {
    req: (w) => ({ path: `/v1/admin/users/${w.users.bob.id}/unblock`, body: {} }),
    denials: [{ as: 'alice', why: 'not an admin', status: 403, code: 'FORBIDDEN' }],
  },
  'POST /v1/conversations': {
    req: (w) => ({ path: '/v1/conversations', body: { type: 'direct', members: [w.users.alice.username] } }),
    denials: [],
  },
  'GET /v1/conversations': {
    req: () => ({ path: '/v1/conversations' }),
    denials: [
      { as: 'mallory', why: 'lists only her own conversations', status: 200 },
      { as: 'carol', why: 'a removed member no longer lists the group', status: 200 },
    ],
  },
  'GET /v1/conversations/{id}': {
    req: (w) => g(w),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'PATCH /v1/conversations/{id}': {
    req: (w) => ({ ...g(w), body: { title: 'pwned' } }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), byRole('bob', 'a plain member renames the group')],
  },
  'POST /v1/conversations/{id}/accept': {
    req: (w) => ({ ...g(w, '/accept') }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'POST /v1/conversations/{id}/members': {
    req: (w) => ({ ...g(w, '/members'), body: { members: [w.users.mallory.username] } }),
    denials: [
      { ...nonMember('CONVERSATION_NOT_FOUND'), why: 'adds herself to a foreign group' },
      removed('CONVERSATION_NOT_FOUND'),
      byRole('bob', 'a plain member adds someone'),
    ],
  },
  'DELETE /v1/conversations/{id}/members/{userId}': {
    req: (w) => g(w, `/members/${w.users.bob.id}`),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'PUT /v1/conversations/{id}/members/{userId}/role': {
    req: (w) => ({ ...g(w, `/members/${w.users.bob.id}/role`), body: { role: 'admin' } }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), byRole('bob', 'a plain member promotes himself')],
  },
  'POST /v1/conversations/{id}/messages': {
    req: (w) => ({ ...g(w, '/messages'), body: { clientMsgId: randomUUID(), body: 'intrusion' } }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'GET /v1/conversations/{id}/messages': {
    req: (w) => g(w, '/messages?after=0'),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'POST /v1/conversations/{id}/read': {
    req: (w) => ({ ...g(w, '/read'), body: { seq: w.seq } }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'POST /v1/conversations/{id}/delivered': {
    req: (w) => ({ ...g(w, '/delivered'), body: { seq: w.seq } }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'GET /v1/conversations/{id}/presence': {
    req: (w) => g(w, '/presence'),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'PATCH /v1/messages/{id}': {
    req: (w) => ({ ...m(w), body: { body: 'forged edit' } }),
    denials: [nonMember('MESSAGE_NOT_FOUND'), byRole('bob', 'only the sender edits')],
  },
  'DELETE /v1/messages/{id}': {
    req: (w) => m(w),
    denials: [nonMember('MESSAGE_NOT_FOUND'), byRole('bob', 'a plain member deletes for everyone')],
  },
  'GET /v1/messages/{id}/replies': {
    req: (w) => m(w, '/replies'),
    denials: [nonMember('MESSAGE_NOT_FOUND'), removed('MESSAGE_NOT_FOUND')],
  },
  'PUT /v1/messages/{id}/reactions/{emoji}': {
    req: (w) => m(w, `/reactions/${THUMBS}`),
    denials: [nonMember('MESSAGE_NOT_FOUND'), removed('MESSAGE_NOT_FOUND')],
  },
  'DELETE /v1/messages/{id}/reactions/{emoji}': {
    req: (w) => m(w, `/reactions/${THUMBS}`),
    denials: [nonMember('MESSAGE_NOT_FOUND')],
  },
  'PUT /v1/messages/{id}/star': {
    req: (w) => m(w, '/star'),
    denials: [nonMember('MESSAGE_NOT_FOUND'), removed('MESSAGE_NOT_FOUND')],
  },
  'DELETE /v1/messages/{id}/star': { req: (w) => m(w, '/star'), denials: [nonMember('MESSAGE_NOT_FOUND')] },
  'PUT /v1/users/me/blocks/{username}': {
    req: (w) => ({ path: `/v1/users/me/blocks/${w.users.alice.username}` }),
    denials: [],
  },
  'DELETE /v1/users/me/blocks/{username}': {
    req: (w) => ({ path: `/v1/users/me/blocks/${w.users.alice.username}` }),
    denials: [],
  },
  'GET /v1/search/messages': {
    req: (w) => ({ path: `/v1/search/messages?q=${SECRET.word}&conversationId=${w.group}` }),
    denials: [
      nonMember('CONVERSATION_NOT_FOUND'),
      removed('CONVERSATION_NOT_FOUND'),
      {
        as: 'mallory',
        why: 'a search over all her conversations finds nothing of the group',
        status: 200,
        req: () => ({ path: `/v1/search/messages?q=${SECRET.word}` }),
      },
    ],
  },
  'GET /v1/users/me/stars': {
    req: () => ({ path: '/v1/users/me/stars' }),
    denials: [{ as: 'carol', why: 'stars in a group she left are not served', status: 200 }],
  },
};

/** Operations open to anyone (`security: []`), each with the hostile call that must fail. */
const PUBLIC: Record<
  string,
  { why: string; hostile?: (w: World) => Req & { status: number; code: string } }
> = {
  'GET /.well-known/jwks.json': { why: 'public keys only' },
  'POST /v1/auth/register': {
    why: 'sign-up',
    hostile: (w) => ({
      path: '/v1/auth/register',
      body: { username: w.users.alice.username, password: 'another long passphrase' },
      status: 409,
      code: 'USERNAME_TAKEN',
    }),
  },
  'POST /v1/auth/login': {
    why: 'sign-in',
    hostile: (w) => ({
      path: '/v1/auth/login',
      body: { login: w.users.alice.username, password: 'not her password at all' },
      status: 401,
      code: 'INVALID_CREDENTIALS',
    }),
  },
  'POST /v1/auth/refresh': {
    why: 'holds a refresh token instead',
    hostile: (w) => {
      const [, session, gen] = w.users.alice.refresh.split('.');
      return {
        path: '/v1/auth/refresh',
        body: { refreshToken: `rt1.${session}.${gen}.${'A'.repeat(43)}` },
        status: 401,
        code: 'INVALID_REFRESH_TOKEN',
      };
    },
  },
  'POST /v1/auth/otp/request': { why: 'SMS sign-in starts anonymous' },
  'POST /v1/auth/otp/verify': {
    why: 'SMS sign-in',
    hostile: () => ({
      path: '/v1/auth/otp/verify',
      body: { phone: '+4790000001', code: '000000' },
      status: 401,
      code: 'INVALID_OTP',
    }),
  },
  'GET /v1/auth/github/start': {
    why: 'OAuth starts anonymous',
    hostile: () => ({ path: '/v1/auth/github/start', status: 404, code: 'OAUTH_DISABLED' }),
  },
  'GET /v1/auth/github/callback': {
    why: 'OAuth redirect target',
    hostile: () => ({
      path: '/v1/auth/github/callback?code=x&state=forged',
      status: 404,
      code: 'OAUTH_DISABLED',
    }),
  },
};

const PROBLEM_FIELDS = ['type', 'title', 'status', 'code', 'detail', 'instance', 'requestId', 'errors'];
const BOOTSTRAP_SECRET = 'authz-bootstrap-secret-0123456789abcdef';

type Doc = {
  paths: Record<
    string,
    Record<string, { security?: unknown[]; responses: Record<string, { description: string }> }>
  >;
};

describe('authorization matrix (embedded)', function () {
  this.timeout(60_000);
  let running: Running;
  let dir: string;
  let base: string;
  let jwk: JWK;
  let doc: Doc;
  const w = { users: {} } as World;
  const badTokens: Record<string, string | undefined> = {};
  const sockets: TestSocket[] = [];

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
  const register = async (username: string, extra: Json = {}): Promise<User> => {
    const b = await json('POST', '/v1/auth/register', undefined, {
      username,
      password: 'correct horse battery',
      ...extra,
    });
    const token = b.tokens.accessToken as string;
    return {
      id: b.user.id,
      username,
      token,
      refresh: b.tokens.refreshToken,
      sid: String(decodeJwt(token).sid),
    };
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
    dir = mkdtempSync(join(tmpdir(), 'parley-authz-'));
    jwk = await generateSigningJwk('authz-key');
    running = await runStandalone({
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
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
    });
    await running.ready;
    base = running.url;
    doc = (await json('GET', '/v1/openapi.json')) as Doc;
    const u = w.users;
    u.alice = await register('alice', {
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
    const sent = await json('POST', `/v1/conversations/${w.group}/messages?wait=persisted`, u.alice.token, {
      clientMsgId: 'secret-1',
      body: SECRET.body,
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
    await running?.stop('test');
    rmSync(dir, { recursive: true, force: true });
  });

  it('has a row for every operation of the OpenAPI document, and no stale row', () => {
    const ops = Object.entries(doc.paths).flatMap(([p, byMethod]) =>
      Object.entries(byMethod).map(([method, op]) => ({ key: `${method.toUpperCase()} ${p}`, op })),
    );
    const keys = ops.map((o) => o.key);
    expect(
      keys.filter((k) => !(k in SECURED) && !(k in PUBLIC)),
      'operations without a row',
    ).to.deep.equal([]);
    expect(
      [...Object.keys(SECURED), ...Object.keys(PUBLIC)].filter((k) => !keys.includes(k)),
      'stale rows',
    ).to.deep.equal([]);
    for (const { key, op } of ops) {
      const open = Array.isArray(op.security) && op.security.length === 0;
      expect(open, `${key}: public in the document ⇔ in PUBLIC`).to.equal(key in PUBLIC);
    }
  });

  describe('REST: a bad or missing token gets 401 UNAUTHENTICATED', () => {
    for (const [key, op] of Object.entries(SECURED)) {
      const [method, route] = key.split(' ') as [string, string];
      it(`${key}`, async () => {
        documented(method, route, 401, 'UNAUTHENTICATED');
        const { path, body } = op.req(w);
        for (const [variant, token] of Object.entries(badTokens))
          refused(await call(method, path, token, body), 401, 'UNAUTHENTICATED', `${key} with ${variant}`);
      });
    }
  });

  describe('REST: a signed-in user who is not allowed', () => {
    for (const [key, op] of Object.entries(SECURED)) {
      const [method, route] = key.split(' ') as [string, string];
      for (const d of op.denials)
        it(`${key} as ${d.as} (${d.why}) → ${d.status}${d.code ? ` ${d.code}` : ' without the secrets'}`, async () => {
          documented(method, route, d.status, d.code);
          const { path, body } = (d.req ?? op.req)(w);
          const r = await call(method, path, w.users[d.as].token, body);
          if (d.code) refused(r, d.status, d.code, `${key} as ${d.as}`);
          else {
            expect(r.status, r.text).to.equal(d.status);
            noSecrets(r.text, `${key} as ${d.as}`);
          }
        });
    }
  });

  describe('REST: public operations refuse the hostile call', () => {
    for (const [key, p] of Object.entries(PUBLIC)) {
      if (!p.hostile) continue;
      const [method, route] = key.split(' ') as [string, string];
      it(`${key} (${p.why})`, async () => {
        const h = p.hostile!(w);
        documented(method, route, h.status, h.code);
        refused(await call(method, h.path, undefined, h.body), h.status, h.code, key);
      });
    }
  });

  describe('REST: every operation with a JSON body refuses hostile shapes before anything walks them', () => {
    // #15: a body nested 10,000 deep overflowed the stack of the U+0000 walk (500). The limits are
    // checked on the raw text, before authentication, so signed-in or not makes no difference.
    const shapes: [string, string, string][] = [
      [
        'nested 10,000 deep',
        `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
        'JSON nests deeper than 32 levels',
      ],
      ['nested 33 deep', `{"a":${'['.repeat(32)}${']'.repeat(32)}}`, 'JSON nests deeper than 32 levels'],
      [
        'with 2,049 keys',
        `{${Array.from({ length: 2049 }, (_, i) => `"${i}":0`).join(',')}}`,
        'JSON has more than 2048 object keys',
      ],
    ];
    it('for every operation of the document', async () => {
      const ops = Object.entries(doc.paths).flatMap(([route, byMethod]) =>
        Object.entries(byMethod)
          .filter(([, op]) => (op as { requestBody?: unknown }).requestBody !== undefined)
          .map(([method]) => [method.toUpperCase(), route] as const),
      );
      expect(ops.length).to.be.greaterThan(10);
      for (const [method, route] of ops) {
        const path = route.replace(/\{[^}]+\}/g, randomUUID());
        for (const [what, text, detail] of shapes)
          for (const token of [undefined, w.users.mallory.token]) {
            const res = await fetch(base + path, {
              method,
              headers: {
                'content-type': 'application/json',
                ...(token ? { authorization: `Bearer ${token}` } : {}),
              },
              body: text,
            });
            const r = {
              status: res.status,
              type: res.headers.get('content-type') ?? '',
              text: await res.text(),
            };
            refused(r, 400, 'MALFORMED_JSON', `${method} ${route} ${what}${token ? ' signed in' : ''}`);
            expect(JSON.parse(r.text).detail).to.equal(detail);
            documented(method, route, 400, 'MALFORMED_JSON');
          }
      }
    });
  });

  it('left every victim resource as it was', async () => {
    const { alice, bob, root } = w.users;
    const conv = await json('GET', `/v1/conversations/${w.group}`, alice.token);
    expect(conv.title).to.equal(SECRET.title);
    expect((conv.members as Json[]).map((x) => x.userId).sort()).to.deep.equal([alice.id, bob.id].sort());
    expect((conv.members as Json[]).find((x) => x.userId === bob.id)?.role).to.equal('member');
    const page = await json('GET', `/v1/conversations/${w.group}/messages?after=0`, alice.token);
    expect((page.messages as Json[]).map((x) => x.body)).to.deep.equal([SECRET.body]);
    expect((await json('GET', '/v1/users/me/devices', bob.token)).devices.map((d: Json) => d.id)).to.include(
      w.bobDevice,
    );
    expect((await json('GET', '/v1/users/me', bob.token)).status).to.equal('active');
    expect((await json('GET', '/v1/users/me', alice.token)).roles).to.deep.equal(['user']);
    expect((await json('GET', '/v1/users/me', root.token)).roles).to.include('admin');
  });

  describe('account attacks (#15, findings 2, 3, 6, 7 and 8)', () => {
    const outbox = () => (running.deps().sms as unknown as { outbox: { to: string; body: string }[] }).outbox;
    const lastCode = (to: string) =>
      /(\d{6})/.exec([...outbox()].reverse().find((x) => x.to === to)?.body ?? '')?.[1];

    it('admin squatting: registering a name from AUTH_ADMIN_USERNAMES grants nothing', async () => {
      const boss = await register('boss');
      expect((await json('GET', '/v1/users/me', boss.token)).roles).to.deep.equal(['user']);
      const r = await call('POST', `/v1/admin/users/${w.users.bob.id}/block`, boss.token, {});
      refused(r, 403, 'FORBIDDEN', 'squatted admin name');
      // The secret root used is spent: it works once.
      const again = await call('POST', '/v1/auth/admin-bootstrap', boss.token, { secret: BOOTSTRAP_SECRET });
      refused(again, 403, 'ADMIN_BOOTSTRAP_REFUSED', 'a spent bootstrap secret');
    });

    it('pre-hijack: an account that typed the victim’s number is never what the victim’s SMS sign-in opens', async () => {
      const phone = '+4790011223';
      const squatter = await register('prehijacker', { phone });
      await json('POST', '/v1/auth/otp/request', undefined, { phone });
      const victim = await json('POST', '/v1/auth/otp/verify', undefined, { phone, code: lastCode(phone) });
      expect(victim.created).to.equal(true);
      expect(victim.user.id).to.not.equal(squatter.id);
      // The squatter cannot prove the number: the code goes to the victim's phone.
      const proof = await call('POST', '/v1/users/me/phone/verify', squatter.token, { code: '000000' });
      refused(proof, 401, 'INVALID_OTP', 'proving a number without its code');
    });

    it('enumeration: register and PATCH answer alike whoever else entered an email or phone', async () => {
      const taken = await call('POST', '/v1/auth/register', undefined, {
        username: 'enum_probe',
        password: 'correct horse battery',
        email: SECRET.email,
      });
      expect(taken.status, taken.text).to.equal(201);
      const p = await call('PATCH', '/v1/users/me', w.users.mallory.token, {
        email: SECRET.email,
        phone: '+4790011223',
      });
      expect(p.status, p.text).to.equal(200);
      expect(p.text).to.not.include('TAKEN');
    });

    it('per-account throttle: failures from many addresses delay the account, and the owner still gets in', async () => {
      await register('throttled');
      // Three failures (LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY here): under the per-(IP, login) limit
      // of 5, so what answers next is the per-account throttle alone, which ignores the address.
      for (let i = 0; i < 3; i++)
        expect(
          (
            await call('POST', '/v1/auth/login', undefined, {
              login: 'throttled',
              password: `wrong guess ${i}`,
            })
          ).status,
        ).to.equal(401);
      const delayed = await call('POST', '/v1/auth/login', undefined, {
        login: 'throttled',
        password: 'correct horse battery',
      });
      expect(delayed.status, delayed.text).to.equal(429);
      const problem = JSON.parse(delayed.text) as Json;
      expect(problem.code).to.equal('LOGIN_DELAYED');
      let nonce = 0;
      const zeroBits = (d: Buffer) => d[0] === 0; // 8 bits
      while (!zeroBits(createHash('sha256').update(`${problem.challenge}:${nonce}`).digest())) nonce++;
      const owner = await call('POST', '/v1/auth/login', undefined, {
        login: 'throttled',
        password: 'correct horse battery',
        proof: { challenge: problem.challenge, nonce: String(nonce) },
      });
      expect(owner.status, owner.text).to.equal(200);
    });

    it('display names cannot pass for another user', async () => {
      const r = await call('PATCH', '/v1/users/me', w.users.mallory.token, { displayName: '@alice' });
      refused(r, 422, 'DISPLAY_NAME_IMPERSONATION', 'display name @alice');
    });

    it('Bearer is case-insensitive', async () => {
      const res = await fetch(`${base}/v1/users/me`, {
        headers: { authorization: `bearer ${w.users.bob.token}` },
      });
      expect(res.status).to.equal(200);
    });
  });

  describe('WebSocket', () => {
    const connect = async (u: User) => {
      const s = await TestSocket.bearer(base, u.token);
      sockets.push(s);
      return s;
    };
    const raw = (protocols?: string[]) => {
      const s = new TestSocket(wsUrl(base), protocols);
      sockets.push(s);
      return s;
    };
    /** One frame of each type about the group, for the frame-level rows. */
    const frameOf = (type: string, id: string): Json => {
      const conversationId = w.group;
      switch (type) {
        case 'auth':
          return { type, id, token: w.users.mallory.token };
        case 'send':
          return { type, id, conversationId, clientMsgId: randomUUID(), body: 'intrusion' };
        case 'typing':
          return { type, id, conversationId, state: 'started' };
        case 'read':
        case 'delivered':
          return { type, id, conversationId, seq: w.seq };
        case 'resume':
          return { type, id, cursors: { [conversationId]: 0 } };
        case 'presence':
          return { type, id, status: 'away' };
        case 'ping':
          return { type, id };
      }
      throw new Error(`no frame for type ${type}: add a row`);
    };
    /** Who may not send each frame type about the group, and the error frame they get. */
    /** The non-member and the removed member, who may not touch the group. */
    const outsiders = (code: string) => [
      { as: 'mallory' as Who, code },
      { as: 'carol' as Who, code },
    ];
    /** Who may not send each frame type about the group, and the error frame they get. */
    const FRAME_DENIALS: Record<string, { as: Who; code: string }[]> = {
      auth: [{ as: 'alice', code: 'TOKEN_MISMATCH' }], // mallory's token on alice's socket
      send: outsiders('CONVERSATION_NOT_FOUND'),
      typing: outsiders('CONVERSATION_NOT_FOUND'),
      read: outsiders('CONVERSATION_NOT_FOUND'),
      delivered: outsiders('CONVERSATION_NOT_FOUND'),
      resume: outsiders('CONVERSATION_NOT_FOUND'),
      presence: [], // about oneself only; the outsider test below checks who hears it
      ping: [], // allowed to anyone, even before authentication
    };

    it('has a row for every client frame type of the protocol', () => {
      expect([...clientFrameTypes].sort()).to.deep.equal(Object.keys(FRAME_DENIALS).sort());
    });

    for (const type of clientFrameTypes.filter((t) => t !== 'auth' && t !== 'ping'))
      it(`answers ${type} before authentication with NOT_AUTHENTICATED and no data`, async () => {
        const s = raw();
        await s.open();
        s.send(frameOf(type, 'x1'));
        expect(await s.next('error', { id: 'x1' })).to.include({ code: 'NOT_AUTHENTICATED' });
        s.send(frameOf('ping', 'p1'));
        await s.next('pong', { id: 'p1' });
        expect(s.frames.map((f) => f.type).sort()).to.deep.equal(['error', 'pong']);
      });

    it('answers ping before authentication, and still closes 4001 when no token follows', async () => {
      const s = raw();
      await s.open();
      s.send(frameOf('ping', 'p'));
      expect(await s.next('pong')).to.include({ id: 'p' });
      expect((await s.closedWith()).code).to.equal(4001);
    });

    const closeFor: Record<string, number> = {
      'no token': 4001,
      'not a JWT': 4001,
      'forged signature': 4001,
      'tampered payload (admin role)': 4001,
      'alg none': 4001,
      expired: 4002,
      'other audience': 4001,
      'other issuer': 4001,
      'revoked session': 4003,
      'issued in the future (#15)': 4001,
      'no at+jwt typ header (#15)': 4001,
    };
    it('closes with the documented code for every bad token, as subprotocol and as auth frame', async () => {
      expect(Object.keys(closeFor).sort()).to.deep.equal(Object.keys(badTokens).sort());
      for (const [variant, token] of Object.entries(badTokens)) {
        const viaProtocol = raw(token ? ['parley.v1', `parley.bearer.${token}`] : ['parley.v1']);
        const viaFrame = raw();
        await viaFrame.open();
        if (token) viaFrame.send({ type: 'auth', id: 'a', token });
        for (const s of [viaProtocol, viaFrame]) {
          expect((await s.closedWith()).code, variant).to.equal(closeFor[variant]);
          expect(
            s.frames.filter((f) => f.type !== 'error').map((f) => f.type),
            variant,
          ).to.deep.equal([]);
        }
      }
    });

    it('refuses a refresh with a bad token and keeps the socket on its own user', async () => {
      const s = await connect(w.users.alice);
      s.send({ type: 'auth', id: 'forged', token: badTokens['forged signature'] });
      expect(await s.next('error', { id: 'forged' })).to.include({ code: 'UNAUTHENTICATED' });
      s.send({ type: 'auth', id: 'bob', token: w.users.bob.token });
      expect(await s.next('error', { id: 'bob' })).to.include({ code: 'TOKEN_MISMATCH' });
      expect(s.closed).to.equal(undefined);
    });

    for (const [type, rows] of Object.entries(FRAME_DENIALS))
      for (const row of rows)
        it(`answers ${type} about the group from ${row.as} with ${row.code} and no data`, async () => {
          const s = await connect(w.users[row.as]);
          s.send(frameOf(type, 'd1'));
          const err = await s.next('error', { id: 'd1' });
          expect(err.code).to.equal(row.code);
          s.send(frameOf('ping', 'after'));
          await s.next('pong', { id: 'after' });
          // A resume still ends with `resumed`, naming none of the refused conversations.
          const seen = s.frames.filter(
            (f) =>
              !['ready', 'error', 'pong', 'presence'].includes(f.type) &&
              !(f.type === 'resumed' && Object.keys((f as Json).conversations ?? {}).length === 0),
          );
          expect(seen, JSON.stringify(seen)).to.deep.equal([]);
          noSecrets(JSON.stringify(s.frames), `${type} as ${row.as}`);
          expect(s.closed).to.equal(undefined);
        });

    it("never pushes the group's events, typing or presence to outsiders", async () => {
      const { alice, bob, carol, mallory } = w.users;
      const outsiders = [await connect(mallory), await connect(carol)];
      const member = await connect(bob);
      const owner = await connect(alice);
      owner.send({ type: 'typing', conversationId: w.group, state: 'started' });
      owner.send({ type: 'presence', status: 'away' });
      owner.send({
        type: 'send',
        id: 's',
        conversationId: w.group,
        clientMsgId: randomUUID(),
        body: SECRET.body,
      });
      await owner.next('ack', { id: 's' });
      await member.next('message.created', { conversationId: w.group });
      await member.next('typing', { conversationId: w.group });
      outsiders[0]!.send({ type: 'presence', id: 'pm', status: 'away' });
      await outsiders[0]!.next('ack', { id: 'pm' });
      // The outsiders' own sockets answered after the member got everything: nothing more is coming.
      for (const s of outsiders) {
        s.send({ type: 'ping', id: 'last' });
        await s.next('pong', { id: 'last' });
        const leaked = s.frames.filter(
          (f: Frame) => f.conversationId === w.group || (f.type === 'presence' && f.userId === alice.id),
        );
        expect(leaked, JSON.stringify(leaked)).to.deep.equal([]);
        noSecrets(JSON.stringify(s.frames), 'outsider socket');
      }
      await waitFor(() => owner.frames.some((f) => f.type === 'ack' && f.id === 's'), { timeoutMs: 1000 });
      expect(owner.frames.filter((f) => f.type === 'presence' && f.userId === mallory.id)).to.deep.equal([]);
    });

    describe('blocks and presence (#15, finding 5)', () => {
      const fresh = (name: string) => register(`${name}_${randomUUID().replace(/-/g, '').slice(0, 8)}`);
      const presenceOf = async (conv: string, viewer: User) =>
        ((await json('GET', `/v1/conversations/${conv}/presence`, viewer.token)).members as Json[]).map(
          (m) => m.userId as string,
        );
      /** Waits until `watcher` has seen the socket's own later pong: earlier frames are all in. */
      const settle = async (s: TestSocket, id: string) => {
        s.send({ type: 'ping', id });
        await s.next('pong', { id });
      };

      it('refuses a blocked user adding the blocker to a new or existing group with 403 BLOCKED', async () => {
        const [victim, stalker, friend] = await Promise.all([
          fresh('victim'),
          fresh('stalker'),
          fresh('friend'),
        ]);
        await json('PUT', `/v1/users/me/blocks/${stalker.username}`, victim.token);
        documented('POST', '/v1/conversations', 403, 'BLOCKED');
        documented('POST', '/v1/conversations/{id}/members', 403, 'BLOCKED');
        for (const type of ['direct', 'group'] as const)
          refused(
            await call('POST', '/v1/conversations', stalker.token, {
              type,
              title: 't',
              members: type === 'direct' ? [victim.username] : [victim.username, friend.username],
            }),
            403,
            'BLOCKED',
            `${type} with the blocker`,
          );
        const own = await json('POST', '/v1/conversations', stalker.token, {
          type: 'group',
          title: 't',
          members: [friend.username],
        });
        refused(
          await call('POST', `/v1/conversations/${own.id}/members`, stalker.token, {
            members: [victim.username],
          }),
          403,
          'BLOCKED',
          'adding the blocker to a group',
        );
        const mine = (await json('GET', '/v1/conversations', victim.token)).conversations as Json[];
        expect(mine, 'the blocker is in no conversation of the blocked user').to.deep.equal([]);
      });

      it("hides a stranger's unsolicited conversation from the invitee's presence until accepted", async () => {
        const [invitee, stranger] = await Promise.all([fresh('invitee'), fresh('stranger')]);
        const conv = (
          await json('POST', '/v1/conversations', stranger.token, {
            type: 'direct',
            members: [invitee.username],
          })
        ).id as string;
        expect((await json('GET', `/v1/conversations/${conv}`, invitee.token)).accepted).to.equal(false);
        expect((await json('GET', `/v1/conversations/${conv}`, stranger.token)).accepted).to.equal(true);
        const watcher = await connect(stranger);
        const target = await connect(invitee);
        target.send({ type: 'presence', id: 'p1', status: 'away' });
        await target.next('ack', { id: 'p1' });
        await settle(watcher, 'w1');
        expect(await presenceOf(conv, stranger)).to.deep.equal([stranger.id]);
        expect(
          watcher.frames.filter((f: Frame) => f.type === 'presence' && f.userId === invitee.id),
        ).to.deep.equal([]);
        // The invitee accepts: presence is shared from then on, over REST and pushed.
        expect((await json('POST', `/v1/conversations/${conv}/accept`, invitee.token)).accepted).to.equal(
          true,
        );
        expect(await presenceOf(conv, stranger)).to.have.members([stranger.id, invitee.id]);
        target.send({ type: 'presence', id: 'p2', status: 'online' });
        await watcher.next('presence', { userId: invitee.id, status: 'online' });
      });

      it('counts a reply as accepting a conversation request', async () => {
        const [invitee, stranger] = await Promise.all([fresh('replier'), fresh('asker')]);
        const conv = (
          await json('POST', '/v1/conversations', stranger.token, {
            type: 'group',
            title: 'q',
            members: [invitee.username],
          })
        ).id as string;
        expect(await presenceOf(conv, stranger)).to.deep.equal([stranger.id]);
        await json('POST', `/v1/conversations/${conv}/messages?wait=persisted`, invitee.token, {
          clientMsgId: 'hello',
          body: 'hi',
        });
        expect(await presenceOf(conv, stranger)).to.have.members([stranger.id, invitee.id]);
      });

      it('stops sharing presence with a user one blocks, over REST and pushed', async () => {
        const [a, b] = await Promise.all([fresh('blocker'), fresh('blocked')]);
        const conv = (
          await json('POST', '/v1/conversations', a.token, { type: 'direct', members: [b.username] })
        ).id as string;
        await json('POST', `/v1/conversations/${conv}/accept`, b.token);
        expect(await presenceOf(conv, b)).to.have.members([a.id, b.id]);
        await json('PUT', `/v1/users/me/blocks/${b.username}`, a.token);
        expect(await presenceOf(conv, b)).to.deep.equal([b.id]);
        const watcher = await connect(b);
        const blocker = await connect(a);
        blocker.send({ type: 'presence', id: 'pa', status: 'away' });
        await blocker.next('ack', { id: 'pa' });
        await settle(watcher, 'wb');
        expect(watcher.frames.filter((f: Frame) => f.type === 'presence' && f.userId === a.id)).to.deep.equal(
          [],
        );
      });
    });
  });
});
