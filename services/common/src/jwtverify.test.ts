import { expect } from 'chai';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JSONWebKeySet, type JWK } from 'jose';
import { MemoryCache } from './cache/memory.ts';
import { ProblemError } from './errors.ts';
import { AccessTokenVerifier, revokedSessionKey, VERIFIED_TTL_MS } from './jwtverify.ts';

async function keyPair(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } as JWK };
}

function sign(k: { kid: string; privateKey: CryptoKey }, nowMs: number, sid = 's1', ttlSec = 300) {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ sid, roles: ['user'] })
    .setProtectedHeader({ alg: 'EdDSA', kid: k.kid, typ: 'at+jwt' })
    .setSubject('u1')
    .setIssuer('parley-auth')
    .setAudience('parley')
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSec)
    .sign(k.privateKey);
}

describe('AccessTokenVerifier: tokens verified lately', () => {
  let clock: number;
  let keySet: JSONWebKeySet;
  /** How often the verifier looked at the key set: once per signature it checked. */
  let keyReads: number;
  let cache: MemoryCache;
  let k: Awaited<ReturnType<typeof keyPair>>;
  const verifier = (size?: number) =>
    new AccessTokenVerifier({
      issuer: 'parley-auth',
      audience: 'parley',
      keys: {
        jwks: () => {
          keyReads++;
          return keySet;
        },
      },
      cache,
      now: () => clock,
      ...(size === undefined ? {} : { verifiedCacheSize: size }),
    });
  const refusal = async (p: Promise<unknown>) => {
    const err = await p.catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProblemError);
    return err as ProblemError;
  };

  beforeEach(async () => {
    clock = Date.now();
    keyReads = 0;
    cache = new MemoryCache();
    k = await keyPair('a');
    keySet = { keys: [k.jwk] };
  });

  it('checks a token’s signature once, and hands out a principal of its own each time', async () => {
    const v = verifier();
    const token = await sign(k, clock);
    const first = await v.verify(token);
    (first.roles as string[]).push('admin');
    const second = await v.verify(token);
    expect(keyReads).to.equal(1);
    expect(second).to.deep.include({ userId: 'u1', sessionId: 's1', roles: ['user'], token });
    expect(second.expiresAt).to.equal(first.expiresAt);
  });

  it('still refuses a remembered token once its session is revoked', async () => {
    const v = verifier();
    const token = await sign(k, clock);
    await v.verify(token);
    await cache.set(revokedSessionKey('s1'), 'logout');
    expect((await refusal(v.verify(token))).detail).to.match(/revoked/);
  });

  it('still refuses a remembered token once it expires, as jose would (the clock skew included)', async () => {
    const v = verifier();
    const token = await sign(k, clock, 's1', 30);
    await v.verify(token);
    clock += 34_000; // exp + 4 s: within the 5 s skew
    expect((await v.verify(token)).userId).to.equal('u1');
    clock += 2_000;
    const err = await refusal(v.verify(token));
    expect(err.code).to.equal('UNAUTHENTICATED');
    expect(err.detail).to.match(/expired/);
    expect(keyReads, 'refused without checking the signature again').to.equal(1);
  });

  it(`checks the signature again after ${VERIFIED_TTL_MS / 1000} s: a key withdrawn from the set stops working by then`, async () => {
    const v = verifier();
    const token = await sign(k, clock, 's1', 3600);
    await v.verify(token);
    keySet = { keys: [(await keyPair('b')).jwk] };
    clock += VERIFIED_TTL_MS - 1;
    expect((await v.verify(token)).userId, 'still within the time').to.equal('u1');
    clock += 1;
    expect((await refusal(v.verify(token))).code).to.equal('UNAUTHENTICATED');
    expect(keyReads).to.equal(2);
  });

  it('does not remember a token it refused, nor one that differs in a byte of its signature', async () => {
    const v = verifier();
    const token = await sign(k, clock);
    await v.verify(token);
    const last = token.at(-2) === 'A' ? 'B' : 'A';
    const forged = `${token.slice(0, -2)}${last}${token.at(-1)}`;
    for (let i = 0; i < 2; i++) expect((await refusal(v.verify(forged))).code).to.equal('UNAUTHENTICATED');
    expect(keyReads, 'the forged token was checked both times').to.equal(3);
  });

  it('remembers at most its size, dropping the oldest; size 0 remembers nothing', async () => {
    const v = verifier(2);
    const tokens = await Promise.all(['s1', 's2', 's3'].map((sid) => sign(k, clock, sid)));
    for (const t of tokens) await v.verify(t);
    expect(keyReads).to.equal(3);
    await v.verify(tokens[2]!);
    await v.verify(tokens[1]!);
    expect(keyReads, 'the two newest are remembered').to.equal(3);
    await v.verify(tokens[0]!);
    expect(keyReads, 'the oldest was dropped').to.equal(4);
    const none = verifier(0);
    await none.verify(tokens[0]!);
    await none.verify(tokens[0]!);
    expect(keyReads).to.equal(6);
  });
});
