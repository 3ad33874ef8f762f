import type { ServiceModule } from '@parley/common';

/**
 * The message service's two roles as modules. REST and the WebSocket gateway (api) and the Kafka
 * persister (worker) arrive with issues #4 and #5; until then each contributes only the shared
 * health, metrics and version routes.
 */
export function messageApiModule<C>(): ServiceModule<C> {
  return { name: 'message-api' };
}

export function messageWorkerModule<C>(): ServiceModule<C> {
  return { name: 'message-worker' };
}
