export { authSettings } from './config.ts';
export { authModule, type AuthConfig } from './module.ts';
export { authErrors } from './errors.ts';
export { generateSigningJwk } from './keys.ts';
