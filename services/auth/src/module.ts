import type { ServiceModule } from '@parley/common';

/**
 * The auth service as a module a process can host. Accounts, tokens and JWKS arrive with issue #3;
 * until then it contributes only the shared health, metrics and version routes.
 */
export function authModule<C>(): ServiceModule<C> {
  return { name: 'auth' };
}
