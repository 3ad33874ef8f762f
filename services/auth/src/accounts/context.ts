import type { AuthStore } from '../store.ts';
import type { AuthMetrics } from '../metrics.ts';
import type { UserEvents } from '../events.ts';
import type { Cache, Logger, RateLimiter } from '@parley/common';

/** Who is asking: the address and User-Agent a session is recorded with. */
export interface ClientContext {
  ip: string;
  userAgent: string;
  device?: { name: string; platform: string } | undefined;
}

export interface AccountsOptions {
  accessTtlSec: number;
  refreshTtlSec: number;
  otp: { ttlSec: number; maxAttempts: number; resendCooldownSec: number };
  limits: {
    registerPer15Min: number;
    loginFailuresPer15Min: number;
    accountFailuresBeforeDelay: number;
    accountMaxDelaySec: number;
    proofOfWorkBits: number;
  };
  /** The one-time admin bootstrap secret; absent, nobody can become admin through the API. */
  adminBootstrapSecret?: string | undefined;
}

/** The ports and settings every part of the accounts domain works over. */
export interface AccountsDeps {
  readonly store: AuthStore;
  readonly cache: Cache;
  readonly events: UserEvents;
  readonly opts: AccountsOptions;
  readonly logger: Logger;
  readonly metrics: AuthMetrics;
  /** Rate limits under the `auth-rl:` prefix, shared by every part. */
  readonly limiter: RateLimiter;
}

export const WINDOW_15_MIN = 15 * 60_000;
