/**
 * Prints a new private Ed25519 JWK set for JWT_SIGNING_KEYS (put it in a Secret).
 *   npm run jwt:keygen -- [kid]
 * To rotate: prepend the new key to the existing array; drop the old one after the access-token TTL.
 */
import { generateSigningJwk } from '@parley/auth';

const kid = process.argv[2] ?? `k-${new Date().toISOString().slice(0, 10)}`;
console.log(JSON.stringify([await generateSigningJwk(kid)]));
