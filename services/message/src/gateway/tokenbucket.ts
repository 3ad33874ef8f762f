/**
 * A token bucket, pure (the caller passes the clock): `ratePerSec` sustained, `burst` at most.
 * One per connection bounds how fast a client may send frames.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token; when none is left, returns the ms until one is. */
  take(now: number): { ok: true } | { ok: false; retryAfterMs: number } {
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSec) / 1000);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSec) };
  }
}
