/**
 * Polls until `check` stops throwing (or returns a truthy value), or fails with its last error
 * after the deadline. Tests wait for async work with this, never with a fixed sleep.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v !== false) return v;
      throw new Error('condition is false');
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
