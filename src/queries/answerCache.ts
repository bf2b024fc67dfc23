import type { Db } from 'mongodb';
import {
  checkpointId,
  CHECKPOINTS_COLLECTION,
  liveVersion,
  type ProjectionName,
} from '../projections/readModels';

/**
 * Answers kept per question for `cacheMs`. After that, the next request still gets the answer it
 * had while one check runs behind it: when the read model has not moved (same live version and
 * checkpoint, two reads of small collections) the answer is kept, otherwise it is computed again
 * and replaces the old one once done. A year of series is costly to compute, and requests that
 * waited for each recomputation made the tail latency of a polled dashboard that cost. An answer
 * not confirmed for 5 `cacheMs` (at least 5 s) is not handed out: the request waits for the
 * check, so a database that is gone shows as an error, not as old numbers.
 */

const MAX_ENTRIES = 500;

interface Entry<T> {
  answer: Promise<T>;
  /** The answer once computed, so `ready` can hand it out without waiting. */
  value?: T;
  stamp: string;
  checkedAt: number;
  checking: boolean;
}

export function createAnswerCache<T>(options: { cacheMs: number; stamp: () => Promise<string> }) {
  const entries = new Map<string, Entry<T>>();
  const staleMs = Math.max(5 * options.cacheMs, 5000);

  function remember(key: string, entry: Entry<T>): void {
    entries.delete(key);
    entries.set(key, entry);
    if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value ?? key);
  }

  async function computeFresh(key: string, compute: () => Promise<T>): Promise<Entry<T>> {
    const checkedAt = Date.now();
    // The stamp is read first: a change while computing shows at the next check.
    const stamp = await options.stamp();
    const answer = compute();
    const value = await answer;
    return { answer, value, stamp, checkedAt, checking: false };
  }

  async function check(key: string, entry: Entry<T>, compute: () => Promise<T>): Promise<T> {
    entry.checking = true;
    try {
      const stamp = await options.stamp();
      if (stamp === entry.stamp) {
        entry.checkedAt = Date.now();
        return await entry.answer;
      }
      const next = await computeFresh(key, compute);
      if (entries.get(key) === entry) remember(key, next);
      return await next.answer;
    } finally {
      entry.checking = false;
    }
  }

  /** The entry's answer now (`value`), or the promise to wait for; starts what `get` would start. */
  function lookup(key: string, compute: () => Promise<T>): { value: T } | { wait: Promise<T> } {
    const entry = entries.get(key);
    if (entry === undefined) {
      const pending = computeFresh(key, compute);
      const placeholder: Entry<T> = {
        answer: pending.then((e) => e.answer),
        stamp: '',
        checkedAt: Date.now(),
        checking: true,
      };
      remember(key, placeholder);
      pending.then(
        (done) => {
          if (entries.get(key) === placeholder) remember(key, done);
        },
        () => {
          if (entries.get(key) === placeholder) entries.delete(key);
        },
      );
      return { wait: placeholder.answer };
    }
    const now = entry.value === undefined ? undefined : { value: entry.value };
    const age = Date.now() - entry.checkedAt;
    if (age < options.cacheMs || entry.checking) return now ?? { wait: entry.answer };
    const checked = check(key, entry, compute);
    if (age >= staleMs) return { wait: checked };
    checked.catch(() => undefined);
    return now ?? { wait: entry.answer };
  }

  return {
    async get(key: string, compute: () => Promise<T>): Promise<T> {
      if (options.cacheMs <= 0) return compute();
      const found = lookup(key, compute);
      return 'value' in found ? found.value : found.wait;
    },
    /**
     * The answer `get` would give, when it can be had without waiting (computed, and not held back
     * for a check); otherwise undefined, having started what `get` would have started.
     */
    ready(key: string, compute: () => Promise<T>): T | undefined {
      if (options.cacheMs <= 0) return undefined;
      const found = lookup(key, compute);
      if ('value' in found) return found.value;
      found.wait.catch(() => undefined);
      return undefined;
    },
  };
}

/** Changes whenever the live version of a read model has moved: its version and checkpoint. */
export async function readModelStamp(db: Db, projection: ProjectionName): Promise<string> {
  const version = await liveVersion(db, projection);
  const checkpoint = await db
    .collection<{ _id: string; position: number }>(CHECKPOINTS_COLLECTION)
    .findOne({ _id: checkpointId(projection, version) });
  return `${version}:${checkpoint?.position ?? 0}`;
}
