import type { RedisClient } from '../redis';
import type { ProjectionName } from '../projections/readModels';
import { readStamps, type ReadModelStamps } from '../projections/readModelStamps';

/**
 * The one cache of query answers (daily metrics, series), bounded by an estimate of the bytes its
 * answers hold; the least recently used answers go first.
 *
 * An answer is handed out only after a read of the read models' stamps (see
 * projections/readModelStamps) that started after the request arrived, and only while its read
 * model's stamp is the one read before the answer was computed. A projector replaces its read
 * model's stamp after writing the documents and before saving its checkpoint, so once a client has
 * seen a checkpoint pass a position (a batch reading `completed`), no answer from before that
 * position is served to it. Concurrent requests share one stamp read (one Redis round trip), so a
 * polled dashboard costs the database nothing while nothing changes. When Redis cannot be read,
 * answers are computed, not taken from the cache.
 */

/**
 * `read` shared by concurrent callers, without handing anyone a read that began before its call:
 * a caller arriving while a read is out waits for the next one, which every caller arriving
 * meanwhile shares.
 */
export function coalescedReads<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let queued: Promise<T> | undefined;
  function start(): Promise<T> {
    const current: Promise<T> = read().finally(() => {
      if (running === current) running = undefined;
    });
    running = current;
    return current;
  }
  return () => {
    if (queued !== undefined) return queued;
    if (running === undefined) return start();
    const next = running
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return start();
      });
    queued = next;
    return next;
  };
}

interface Entry<T> {
  answer: Promise<T>;
  /** Set once computed: only computed answers count against the bound and may be handed out. */
  value?: T;
  stamp: string;
  bytes: number;
}

/** One kind of answer in the cache: its key space, read model and size estimate. */
export interface CachedAnswers<T> {
  /** The answer current at the read model's stamp read now, from the cache or computed. */
  get(key: string, compute: () => Promise<T>): Promise<T>;
  /** `get`, when a computed answer is cached for `key` (see http/cachedReads); undefined otherwise. */
  ready(key: string, compute: () => Promise<T>): Promise<T> | undefined;
}

export interface AnswerCache {
  answers<T>(options: {
    name: string;
    projection: ProjectionName;
    bytesOf: (answer: T) => number;
  }): CachedAnswers<T>;
  /** Bytes the cached answers are estimated to hold. */
  readonly bytes: number;
}

/** `maxBytes` 0 turns the cache off: every question is computed. */
export function createAnswerCache(options: {
  maxBytes: number;
  stamps: () => Promise<ReadModelStamps>;
}): AnswerCache {
  /** Every cached answer in least-recently-used order, with how to drop it. */
  const order = new Map<string, { bytes: number; drop: () => void }>();
  let total = 0;

  function account(id: string, bytes: number, drop: () => void): void {
    const old = order.get(id);
    if (old !== undefined) total -= old.bytes;
    order.delete(id);
    order.set(id, { bytes, drop });
    total += bytes;
    for (const [oldest, held] of order) {
      if (total <= options.maxBytes) break;
      order.delete(oldest);
      total -= held.bytes;
      held.drop();
    }
  }

  function forget(id: string): void {
    const held = order.get(id);
    if (held === undefined) return;
    order.delete(id);
    total -= held.bytes;
  }

  function answers<T>(kind: {
    name: string;
    projection: ProjectionName;
    bytesOf: (answer: T) => number;
  }): CachedAnswers<T> {
    const entries = new Map<string, Entry<T>>();
    const idOf = (key: string): string => `${kind.name}\n${key}`;

    function store(key: string, stamp: string, compute: () => Promise<T>): Promise<T> {
      const answer = compute();
      const entry: Entry<T> = { answer, stamp, bytes: 0 };
      entries.set(key, entry);
      answer.then(
        (value) => {
          if (entries.get(key) !== entry) return;
          entry.value = value;
          entry.bytes = kind.bytesOf(value);
          account(idOf(key), entry.bytes, () => {
            if (entries.get(key) === entry) entries.delete(key);
          });
        },
        // A failed computation is not remembered.
        () => {
          if (entries.get(key) === entry) entries.delete(key);
        },
      );
      return answer;
    }

    async function get(key: string, compute: () => Promise<T>): Promise<T> {
      if (options.maxBytes <= 0) return compute();
      let stamps: ReadModelStamps;
      try {
        stamps = await options.stamps();
      } catch {
        return compute();
      }
      const stamp = stamps[kind.projection];
      const entry = entries.get(key);
      if (entry !== undefined && entry.stamp === stamp) {
        // Same stamp as when it was computed (or is being computed): still the current answer.
        if (entry.value !== undefined) account(idOf(key), entry.bytes, () => entries.delete(key));
        return entry.answer;
      }
      if (entry?.value !== undefined) forget(idOf(key));
      return store(key, stamp, compute);
    }

    return {
      get,
      ready(key, compute) {
        if (options.maxBytes <= 0 || entries.get(key)?.value === undefined) return undefined;
        return get(key, compute);
      },
    };
  }

  return {
    answers,
    get bytes() {
      return total;
    },
  };
}

/** The stamps of every read model, one coalesced read for all callers. */
export function createReadModelStamps(redis: RedisClient, prefix: string): () => Promise<ReadModelStamps> {
  return coalescedReads(() => readStamps(redis, prefix));
}

/** A cache that keeps nothing: every question is computed (queries built without one). */
export function noAnswerCache(): AnswerCache {
  return createAnswerCache({
    maxBytes: 0,
    stamps: () => Promise.reject(new Error('a cache of 0 bytes reads no stamps')),
  });
}
