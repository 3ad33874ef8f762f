/** What a client does after the socket closed with a given code. */
export type CloseAction = 'no' | 'yes' | 'refresh' | 'backoff';

/** The server's close codes (services/message/src/gateway/protocol.ts) and the client's answer. */
export const closeActions: Readonly<Record<number, CloseAction>> = {
  1000: 'no',
  1002: 'backoff',
  1007: 'backoff',
  1009: 'yes',
  1011: 'backoff',
  1012: 'yes',
  1013: 'backoff',
  4000: 'backoff',
  4001: 'no',
  4002: 'refresh',
  4003: 'no',
  4008: 'backoff',
  4009: 'backoff',
  4010: 'yes',
};

/** Unknown codes, and 1006 (no close frame: network loss, process killed), reconnect with backoff. */
export function closeAction(code: number): CloseAction {
  return closeActions[code] ?? 'backoff';
}

export interface BackoffPolicy {
  /** First retry window (default 500 ms). */
  baseMs: number;
  /** Cap of the window (default 30 s). */
  maxMs: number;
}
export const defaultBackoff: BackoffPolicy = { baseMs: 500, maxMs: 30_000 };

/** Exponential backoff with full jitter: uniform in [0, min(max, base·2^attempt)). */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const window = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * window);
}

export type ReconnectPlan =
  | { reconnect: false; reason: 'closed' | 'unauthenticated' | 'revoked' }
  | { reconnect: true; delayMs: number; refreshFirst: boolean };

/**
 * Decides the next step after a close: `attempt` counts closes since the last `ready`,
 * `afterMs` is the delay a `reconnect` frame asked for (draining gateway).
 */
export function planReconnect(
  code: number,
  attempt: number,
  policy: BackoffPolicy,
  random: () => number,
  afterMs?: number,
): ReconnectPlan {
  const action = closeAction(code);
  switch (action) {
    case 'no':
      return {
        reconnect: false,
        reason: code === 1000 ? 'closed' : code === 4003 ? 'revoked' : 'unauthenticated',
      };
    case 'refresh':
      // Refresh and come straight back, unless that already failed to help (clock skew).
      return {
        reconnect: true,
        delayMs: attempt === 0 ? 0 : backoffDelay(attempt, policy, random),
        refreshFirst: true,
      };
    case 'yes':
      // The server asked for it: come back soon, spread out (a whole pod reconnects at once),
      // but still back off if the same thing keeps happening.
      return {
        reconnect: true,
        delayMs:
          afterMs ?? backoffDelay(attempt, { ...policy, maxMs: Math.min(policy.maxMs, 5_000) }, random),
        refreshFirst: false,
      };
    case 'backoff':
      return { reconnect: true, delayMs: backoffDelay(attempt, policy, random), refreshFirst: false };
  }
}
