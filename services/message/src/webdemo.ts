import type { FastifyInstance } from 'fastify';

export interface WebDemoOptions {
  /** Serve the demo web client at `/` (WEB_DEMO_ENABLED). */
  enabled: boolean;
}

/** Serves the demo web client (built on @parley/client) at `/`. Filled in with #5's SDK work. */
export function registerWebDemo(_app: FastifyInstance, _opts: WebDemoOptions): void {}
