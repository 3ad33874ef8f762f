import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JSONWebKeySet, type JWK } from 'jose';
import { ACCESS_TOKEN_ALG } from '@parley/common';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

/** The current signing key and every public key verifiers should accept. */
export interface KeyRing {
  current: SigningKey;
  jwks: JSONWebKeySet;
  /** A strong ETag of the JWKS (verifiers revalidate with If-None-Match). */
  etag: string;
}

const KID = /^[A-Za-z0-9._-]{1,64}$/;

/** Checks and imports a JSON array of private Ed25519 JWKs; the first signs. */
export async function parseKeyRing(json: string, source: string): Promise<KeyRing> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error(`${source}: not valid JSON`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0)
    throw new Error(`${source}: must be a non-empty JSON array of JWKs`);
  const kids = new Set<string>();
  const keys: JWK[] = [];
  for (const [i, k] of (parsed as JWK[]).entries()) {
    if (k?.kty !== 'OKP' || k.crv !== 'Ed25519' || typeof k.d !== 'string' || typeof k.x !== 'string')
      throw new Error(`${source}[${i}]: must be a private Ed25519 JWK (kty OKP, crv Ed25519, x and d)`);
    if (typeof k.kid !== 'string' || !KID.test(k.kid))
      throw new Error(`${source}[${i}]: needs a kid of 1-64 [A-Za-z0-9._-]`);
    if (kids.has(k.kid)) throw new Error(`${source}[${i}]: kid ${k.kid} appears twice`);
    kids.add(k.kid);
    keys.push(k);
  }
  const first = keys[0]!;
  const privateKey = (await importJWK(first, ACCESS_TOKEN_ALG)) as CryptoKey;
  const jwks = {
    keys: keys.map(
      ({ kty, crv, x, kid }) => ({ kty, crv, x, kid, alg: ACCESS_TOKEN_ALG, use: 'sig' }) as JWK,
    ),
  };
  const etag = `"${createHash('sha256').update(JSON.stringify(jwks)).digest('base64url').slice(0, 27)}"`;
  return { current: { kid: first.kid!, privateKey }, jwks, etag };
}

/** A fresh private Ed25519 JWK (for `npm run jwt:keygen` and embedded mode). */
export async function generateSigningJwk(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(ACCESS_TOKEN_ALG, { crv: 'Ed25519', extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: ACCESS_TOKEN_ALG, use: 'sig' };
}

/**
 * Loads keys from configuration (a Secret in Kubernetes). Without configuration, embedded mode
 * generates one key and keeps it under the data dir so tokens survive restarts.
 */
export async function loadKeyRing(opts: {
  keysJson: string | undefined;
  keysFile: string | undefined;
  generatedPath: string;
  onGenerated: (path: string) => void;
}): Promise<KeyRing> {
  if (opts.keysJson) return parseKeyRing(opts.keysJson, 'JWT_SIGNING_KEYS');
  if (opts.keysFile) return parseKeyRing(readFileSync(opts.keysFile, 'utf8'), opts.keysFile);
  if (!existsSync(opts.generatedPath)) {
    mkdirSync(dirname(opts.generatedPath), { recursive: true });
    const jwk = await generateSigningJwk(
      `k-${new Date().toISOString().slice(0, 10)}-${Math.random().toString(36).slice(2, 8)}`,
    );
    writeFileSync(opts.generatedPath, JSON.stringify([jwk], null, 2), { mode: 0o600 });
    chmodSync(opts.generatedPath, 0o600);
    opts.onGenerated(opts.generatedPath);
  }
  return parseKeyRing(readFileSync(opts.generatedPath, 'utf8'), opts.generatedPath);
}
