/**
 * A token bucket as GCRA (generic cell rate algorithm): one stored number per key, the
 * theoretical arrival time (TAT) of the next request. `burst` requests may come at once, then
 * one per `intervalMs`. Pure, so it is table-tested; the cache adapters run it atomically (a Lua
 * script on Redis, so every pod shares one bucket).
 */
export interface GcraPolicy {
  /** The sustained rate: one request per interval. */
  intervalMs: number;
  /** Requests allowed at once from a full bucket (at least 1). */
  burst: number;
}

export interface GcraDecision {
  allowed: boolean;
  /** The TAT to store (unchanged when refused). */
  tat: number;
  /** When refused: how long until one request would be allowed. */
  retryAfterMs: number;
}

export function gcra(storedTat: number | null, now: number, p: GcraPolicy): GcraDecision {
  const tat = Math.max(storedTat ?? now, now);
  const allowAt = tat - (p.burst - 1) * p.intervalMs;
  // Within a microsecond counts as on time: fractional intervals add up with rounding errors.
  if (allowAt - now > 1e-3) return { allowed: false, tat, retryAfterMs: allowAt - now };
  return { allowed: true, tat: tat + p.intervalMs, retryAfterMs: 0 };
}

/** The same decision as a Redis script: KEYS[1] the TAT key; ARGV interval, burst. Uses the server clock. */
export const GCRA_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allowAt = tat - (burst - 1) * interval
if allowAt - now > 0.001 then return {0, math.ceil(allowAt - now)} end
tat = tat + interval
redis.call('SET', KEYS[1], tat, 'PX', math.ceil(tat - now) + 1000)
return {1, 0}`;
