import { expect } from 'chai';
import { loadConfig, redactConfig } from '@parley/common';
import { authSettings } from './config.ts';
import { randomUUID } from 'node:crypto';
import { usernameBase } from './accounts/github.ts';
import { loginDelaySec, solvesChallenge } from './accounts/password.ts';
import { deviceName, loginOutcome } from './accounts/sessions.ts';
import { bareName } from './accounts/users.ts';
import { parseKeyRing, generateSigningJwk } from './keys.ts';
import { passwordProblem } from './passwords.ts';
import { newRefreshToken, parseRefreshToken } from './tokens.ts';

describe('password policy', () => {
  const cases: [string, string, string | null][] = [
    ['short1', 'alice', 'must be at least 10 characters'],
    ['x'.repeat(257), 'alice', 'must be at most 256 characters'],
    ['alice-is-great', 'alice', 'must not contain the username'],
    ['ALICE1234567', 'alice', 'must not contain the username'],
    ['Password123', 'bob', 'is too common'],
    ['abababababab', 'bob', 'needs more variety of characters'],
    ['correct horse battery', 'bob', null],
  ];
  for (const [pw, user, want] of cases)
    it(`${JSON.stringify(pw.slice(0, 20))} for ${user} → ${want ?? 'ok'}`, () =>
      expect(passwordProblem(pw, user)).to.equal(want));
});

describe('refresh token format', () => {
  it('round-trips session and generation and keeps only a hash', () => {
    const sid = randomUUID();
    const { token, hash } = newRefreshToken(sid, 7);
    expect(parseRefreshToken(token)).to.deep.include({ sessionId: sid, gen: 7 });
    expect(hash).to.match(/^[0-9a-f]{64}$/);
    expect(token).to.not.include(hash);
  });

  for (const bad of [
    '',
    'rt1',
    `rt1.${randomUUID()}.x.${'a'.repeat(43)}`,
    `rt2.${randomUUID()}.0.${'a'.repeat(43)}`,
    `rt1.${randomUUID()}.0.short`,
  ])
    it(`refuses ${JSON.stringify(bad.slice(0, 30))}`, () => expect(parseRefreshToken(bad)).to.equal(null));
});

describe('signing key configuration', () => {
  const cases: [string, string][] = [
    ['nope', 'JWT_SIGNING_KEYS: not valid JSON'],
    ['[]', 'JWT_SIGNING_KEYS: must be a non-empty JSON array of JWKs'],
    ['[{"kty":"RSA"}]', 'JWT_SIGNING_KEYS[0]: must be a private Ed25519 JWK (kty OKP, crv Ed25519, x and d)'],
  ];
  for (const [json, message] of cases)
    it(`refuses ${json}`, async () => {
      const err = await parseKeyRing(json, 'JWT_SIGNING_KEYS').catch((e: unknown) => e as Error);
      expect((err as Error).message).to.equal(message);
    });

  it('refuses a public-only key and a duplicate kid', async () => {
    const k = await generateSigningJwk('a');
    const { d: _d, ...pub } = k;
    expect(
      ((await parseKeyRing(JSON.stringify([pub]), 'K').catch((e: Error) => e)) as Error).message,
    ).to.match(/private Ed25519/);
    expect(
      ((await parseKeyRing(JSON.stringify([k, k]), 'K').catch((e: Error) => e)) as Error).message,
    ).to.equal('K[1]: kid a appears twice');
  });

  it('signs with the first key and publishes every public key', async () => {
    const ring = await parseKeyRing(
      JSON.stringify([await generateSigningJwk('new'), await generateSigningJwk('old')]),
      'K',
    );
    expect(ring.current.kid).to.equal('new');
    expect(ring.jwks.keys.map((k) => k.kid)).to.deep.equal(['new', 'old']);
    expect(ring.jwks.keys.every((k) => !('d' in k))).to.equal(true);
  });
});

describe('device names from User-Agent', () => {
  const cases: [string, string][] = [
    [
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
      'Chrome 130',
    ],
    ['curl/8.5.0', 'curl 8'],
    ['', 'Unknown device'],
  ];
  for (const [ua, want] of cases)
    it(`${ua.slice(0, 30) || '(empty)'} → ${want}`, () => expect(deviceName(ua)).to.equal(want));
});

describe('account rules', () => {
  const delays: [number, number | undefined][] = [
    [9, undefined],
    [10, 1],
    [11, 2],
    [14, 16],
    [30, 900],
  ];
  for (const [failures, want] of delays)
    it(`delays sign-in ${want ?? 'not at all'} s after ${failures} failures (10 before delay, at most 900 s)`, () =>
      expect(loginDelaySec(failures, 10, 900)).to.equal(want));

  it('accepts a proof of work only for a well-formed challenge with enough leading zero bits', () => {
    const challenge = 'abc_DEF-123';
    let nonce = 0;
    while (!solvesChallenge({ challenge, nonce: String(nonce) }, 8)) nonce++;
    let unsolved = 0;
    while (solvesChallenge({ challenge, nonce: String(unsolved) }, 8)) unsolved++;
    expect(solvesChallenge({ challenge, nonce: String(unsolved) }, 8)).to.equal(false);
    expect(solvesChallenge({ challenge, nonce: String(unsolved) }, 0)).to.equal(true);
    expect(solvesChallenge({ challenge: 'not/base64url', nonce: String(nonce) }, 0)).to.equal(false);
    expect(solvesChallenge({ challenge: 'x'.repeat(65), nonce: '0' }, 0)).to.equal(false);
  });

  const outcomes: [string | undefined, string][] = [
    ['ACCOUNT_BLOCKED', 'blocked'],
    ['RATE_LIMITED', 'locked'],
    ['OTP_ATTEMPTS_EXCEEDED', 'locked'],
    ['LOGIN_DELAYED', 'locked'],
    ['REFRESH_TOKEN_REUSED', 'reused'],
    ['INVALID_CREDENTIALS', 'invalid'],
    [undefined, 'invalid'],
  ];
  for (const [code, want] of outcomes)
    it(`counts a sign-in failing with ${code ?? 'no code'} as ${want}`, () =>
      expect(loginOutcome(code)).to.equal(want));

  const logins: [string, string][] = [
    ['Octo-Cat', 'octo_cat'],
    ['ab', 'ab_'],
    ['x'.repeat(40), 'x'.repeat(28)],
  ];
  for (const [login, want] of logins)
    it(`takes GitHub login ${login.slice(0, 12)} as username ${want.slice(0, 12)}`, () =>
      expect(usernameBase(login)).to.equal(want));

  it('reads a display name as the username it could pass for', () => {
    expect(bareName('  @@Alice ')).to.equal('alice');
    expect(bareName('ＡＬＩＣＥ')).to.equal('alice');
  });
});

describe('auth settings (#15)', () => {
  const base = { DATA_DIR: '/tmp' };
  const cases: [Record<string, string>, string | null][] = [
    [{ AUTH_ADMIN_BOOTSTRAP_SECRET: 'too-short' }, 'must be at least 32 characters'],
    [{ AUTH_ADMIN_BOOTSTRAP_SECRET: 'x'.repeat(32) }, null],
    [{ LOGIN_PROOF_OF_WORK_BITS: '33' }, 'LOGIN_PROOF_OF_WORK_BITS'],
    [{ LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY: '0' }, 'LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY'],
  ];
  for (const [env, want] of cases)
    it(`${Object.keys(env)[0]}=${Object.values(env)[0]!.slice(0, 12)} → ${want ?? 'ok'}`, () => {
      const load = () => loadConfig(authSettings, { ...base, ...env });
      if (want !== null) return void expect(load).to.throw(want);
      // Accepted: the value is the one given.
      const cfg = load() as unknown as Record<string, unknown>;
      expect(JSON.stringify(cfg)).to.include(Object.values(env)[0]!);
    });

  it('keeps the bootstrap secret out of the redacted config', () => {
    const cfg = loadConfig(authSettings, { ...base, AUTH_ADMIN_BOOTSTRAP_SECRET: 's'.repeat(40) });
    expect(JSON.stringify(redactConfig(authSettings, cfg))).to.not.include('s'.repeat(40));
  });
});
