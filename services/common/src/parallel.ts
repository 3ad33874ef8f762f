/**
 * Runs `fn` over `items` with at most `limit` in flight and resolves their results in the items'
 * order; waits for all, then rethrows the first failure (so nothing is still writing when a batch
 * fails and is redelivered).
 */
export async function mapInParallel<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const failures: unknown[] = [];
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!).then(
        (r) => void (results[i] = r),
        (err: unknown) => void failures.push(err),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failures.length) throw failures[0];
  return results;
}

/** mapInParallel for work without a result. */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  await mapInParallel(items, limit, fn);
}
