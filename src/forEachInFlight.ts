/**
 * Runs `work` on each item as the items arrive, with at most `limit` calls in flight. After the
 * first failure (of a call, or of the items themselves) it takes no more items, waits for the calls
 * already started, and throws that failure, so nothing is left running behind the caller's back:
 * an upload undoing itself must not have an insert land after its delete.
 */
export async function forEachInFlight<T>(
  items: AsyncIterable<T> | Iterable<T>,
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  try {
    for await (const item of items) {
      if (failure !== undefined) break;
      const call: Promise<void> = work(item)
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => running.delete(call));
      running.add(call);
      if (running.size >= limit) await Promise.race(running);
    }
  } finally {
    await Promise.all(running);
  }
  if (failure !== undefined) throw failure.error;
}
