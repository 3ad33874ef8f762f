import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { MemoryCache } from './cache/memory.ts';
import { ProblemError } from './errors.ts';
import { AccessTokenVerifier, revokedSessionKey } from './jwtverify.ts';

async function keyPair(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } as JWK };
}

function sign(
  k: { kid: string; privateKey: CryptoKey },
  sid = 's1',
  opts: { typ?: string | null; iat?: number } = {},
) {
  const typ = opts.typ === undefined ? 'at+jwt' : opts.typ;
  return new SignJWT({ sid, roles: ['user'] })
    .setProtectedHeader({ alg: 'EdDSA', kid: k.kid, ...(typ === null ? {} : { typ }) })
    .setSubject('u1')
    .setIssuer('parley-auth')
    .setAudience('parley')
    .setIssuedAt(opts.iat ?? Math.floor(Date.now() / 1000))
    .setExpirationTime('5m')
    .sign(k.privateKey);
}

describe('AccessTokenVerifier with a remote JWKS', () => {
  let server: Server;
  let keys: JWK[] = [];
  let fetches = 0;
  let url: string;

  before(async () => {
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('caches keys, refetches on an unknown kid after rotation, and honours revocation', async () => {
    const a = await keyPair('a');
    const b = await keyPair('b');
    keys = [a.jwk];
    const cache = new MemoryCache();
    const v = new AccessTokenVerifier({
      issuer: 'parley-auth',
      audience: 'parley',
      keys: { jwksUrl: url },
      cache,
      jwksCooldownMs: 0,
    });
    const p = await v.verify(await sign(a));
    expect(p).to.include({ userId: 'u1', sessionId: 's1' });
    await v.verify(await sign(a));
    expect(fetches).to.equal(1);
    keys = [b.jwk, a.jwk];
    expect((await v.verify(await sign(b))).userId).to.equal('u1');
    expect(fetches).to.equal(2);
    await v.verify(await sign(a));
    expect(fetches).to.equal(2);
    await cache.set(revokedSessionKey('s2'), 'logout');
    const err = await v.verify(await sign(a, 's2')).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProblemError);
    expect((err as ProblemError).code).to.equal('UNAUTHENTICATED');
    expect((err as ProblemError).detail).to.match(/revoked/);
  });

  it('rejects a token whose kid the auth service does not publish', async () => {
    keys = [(await keyPair('a')).jwk];
    const v = new AccessTokenVerifier({
      issuer: 'parley-auth',
      audience: 'parley',
      keys: { jwksUrl: url },
      cache: new MemoryCache(),
      jwksCooldownMs: 0,
    });
    const err = await v.verify(await sign(await keyPair('zzz'))).catch((e: unknown) => e);
    expect((err as ProblemError).code).to.equal('UNAUTHENTICATED');
  });

  describe('#15 finding 8: header and clock checks', () => {
    let k: Awaited<ReturnType<typeof keyPair>>;
    let v: AccessTokenVerifier;
    before(async () => {
      k = await keyPair('c');
      keys = [k.jwk];
      v = new AccessTokenVerifier({
        issuer: 'parley-auth',
        audience: 'parley',
        keys: { jwksUrl: url },
        cache: new MemoryCache(),
        jwksCooldownMs: 0,
      });
    });
    const refusal = async (token: Promise<string>) =>
      ((await v.verify(await token).catch((e: unknown) => e)) as ProblemError).code;

    it('accepts an at+jwt token issued now or within the clock skew', async () => {
      expect((await v.verify(await sign(k))).userId).to.equal('u1');
      const soon = Math.floor(Date.now() / 1000) + 3;
      expect((await v.verify(await sign(k, 's1', { iat: soon }))).userId).to.equal('u1');
    });

    it('refuses a token issued in the future beyond the clock skew', async () => {
      const later = Math.floor(Date.now() / 1000) + 120;
      expect(await refusal(sign(k, 's1', { iat: later }))).to.equal('UNAUTHENTICATED');
    });

    for (const typ of [null, 'JWT', 'id+jwt'])
      it(`refuses a token whose typ header is ${typ === null ? 'missing' : typ}`, async () => {
        expect(await refusal(sign(k, 's1', { typ }))).to.equal('UNAUTHENTICATED');
      });
  });
});
