import type { Db } from 'mongodb';
import { ValidationError } from '../errors';
import type { DailyMetricsDoc } from '../projections/dailyMetrics';
import { liveCollection } from '../projections/readModels';

export interface DailyMetrics {
  date: string;
  metrics: { eventType: string; count: number }[];
}

/** True only for a real calendar date written as YYYY-MM-DD (so 2024-02-31 and 2024-1-1 are not). */
export function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00.000Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === value;
}

/** Days remembered by the answer cache at most; the oldest answer is dropped first. */
const CACHE_MAX_DAYS = 1000;

/**
 * `cacheMs` (METRICS_CACHE_MS) keeps each day's answer that long, so a dashboard polled by many
 * clients costs the database one read per day per period; the read model is eventually
 * consistent anyway, and 0 turns the cache off.
 */
/** A day's answer while it is read, and its value once read (what `ready` hands out). */
interface CachedDay {
  until: number;
  answer: Promise<DailyMetrics>;
  value?: DailyMetrics;
}

export function createGetDailyMetrics(deps: { db: Db; cacheMs?: number; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  const cacheMs = deps.cacheMs ?? 0;
  const cache = new Map<string, CachedDay>();

  /** A day's answer still within `cacheMs`; only valid days are ever cached. */
  function fresh(day: string): CachedDay | undefined {
    const hit = cache.get(day);
    return hit !== undefined && hit.until > Date.now() ? hit : undefined;
  }

  function cached(day: string): Promise<DailyMetrics> {
    const at = Date.now();
    const answer = read(day);
    cache.delete(day);
    const entry: CachedDay = { until: at + cacheMs, answer };
    cache.set(day, entry);
    if (cache.size > CACHE_MAX_DAYS) cache.delete(cache.keys().next().value ?? day);
    answer.then(
      (value) => {
        entry.value = value;
      },
      // A failed read is not remembered.
      () => {
        if (cache.get(day) === entry) cache.delete(day);
      },
    );
    return answer;
  }

  async function read(day: string): Promise<DailyMetrics> {
    const collection = await liveCollection<DailyMetricsDoc>(deps.db, 'dailyMetrics');
    const doc = await collection.findOne({ _id: day });
    // Stored sorted by eventType (code-unit order), so the answer is the document as it is.
    const metrics = (doc?.counts ?? []).filter((c) => c.count > 0);
    return { date: day, metrics };
  }

  async function getDailyMetrics(date: string | undefined): Promise<DailyMetrics> {
    const day = date ?? now().toISOString().slice(0, 10);
    const hit = fresh(day);
    if (hit !== undefined) return hit.answer;
    if (!isCalendarDate(day)) {
      throw new ValidationError('date must be a calendar date written as YYYY-MM-DD (UTC)', { date });
    }
    return cacheMs > 0 ? cached(day) : read(day);
  }
  /** The cached answer when it is there without waiting (read and within cacheMs); undefined otherwise. */
  function ready(date: string | undefined): DailyMetrics | undefined {
    return fresh(date ?? now().toISOString().slice(0, 10))?.value;
  }
  return Object.assign(getDailyMetrics, { ready });
}

export type GetDailyMetrics = ReturnType<typeof createGetDailyMetrics>;
