import { setTimeout as sleep } from 'node:timers/promises';

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0..1: fraction of each delay that is randomized. */
  jitter: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 250, maxMs: 10_000, factor: 2, jitter: 0.2 };

/** The delay before attempt n (0-based). Pure, so it is table-tested. */
export function backoffDelay(attempt: number, p: BackoffPolicy, random: () => number = Math.random): number {
  const base = Math.min(p.maxMs, p.initialMs * Math.pow(p.factor, attempt));
  return Math.round(base * (1 - p.jitter + p.jitter * 2 * random()));
}

/**
 * Calls `fn` until it succeeds or `signal` aborts, sleeping with backoff in between.
 * `onFailure` sees every error; callers decide what to log (usually state changes only).
 */
export async function retryForever<T>(
  fn: () => Promise<T>,
  opts: { signal?: AbortSignal; policy?: BackoffPolicy; onFailure?: (err: unknown, attempt: number) => void },
): Promise<T> {
  const policy = opts.policy ?? defaultBackoff;
  for (let attempt = 0; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      opts.onFailure?.(err, attempt);
      await sleep(backoffDelay(attempt, policy), undefined, { signal: opts.signal });
    }
  }
}

/**
 * Polls `check` until it returns a truthy value or the deadline passes: tests and scripts wait for
 * async work with this, never with a fixed sleep. A throw counts as "not yet", so an assertion
 * works as a check (`() => expect(x).to.equal(1)`: a chai Assertion is truthy); on timeout the
 * last error is the thrown error's message and cause.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const why = lastErr instanceof Error ? `: ${lastErr.message}` : '';
      throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${why}`, { cause: lastErr });
    }
    await sleep(opts.intervalMs ?? 25);
  }
}
