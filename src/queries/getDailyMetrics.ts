import type { Db } from 'mongodb';
import { ValidationError } from '../errors';
import { partIdsOf, wholeDays, type DailyMetricsDoc } from '../projections/dailyMetrics';
import { liveCollection } from '../projections/readModels';
import { noAnswerCache, type AnswerCache } from './answerCache';

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

/** Rough bytes a day's answer holds in memory, with its JSON made for the response. */
function dailyBytes(answer: DailyMetrics): number {
  return answer.metrics.reduce((n, m) => n + 120 + 3 * m.eventType.length, 160);
}

/** A day's counts, kept in `cache` while the read model has not moved (see answerCache). */
export function createGetDailyMetrics(deps: { db: Db; cache?: AnswerCache; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  const cache = (deps.cache ?? noAnswerCache()).answers<DailyMetrics>({
    name: 'dailyMetrics',
    projection: 'dailyMetrics',
    bytesOf: dailyBytes,
  });

  async function read(day: string): Promise<DailyMetrics> {
    const collection = await liveCollection<DailyMetricsDoc>(deps.db, 'dailyMetrics');
    const found = await collection.findOne({ _id: day });
    // A day split into parts for its size (see dailyMetrics) is read with them.
    const parts =
      found?.split === true
        ? await Promise.all(partIdsOf(day).map((_id) => collection.findOne({ _id })))
        : [];
    const [doc] = wholeDays([found, ...parts].filter((d): d is DailyMetricsDoc => d !== null));
    // Stored sorted by eventType (code-unit order), so the answer is the document as it is.
    const metrics = (doc?.counts ?? []).filter((c) => c.count > 0);
    return { date: day, metrics };
  }

  /** The day asked for, checked: only valid days are read or cached. */
  function dayOf(date: string | undefined): string {
    const day = date ?? now().toISOString().slice(0, 10);
    if (!isCalendarDate(day)) {
      throw new ValidationError('date must be a calendar date written as YYYY-MM-DD (UTC)', { date });
    }
    return day;
  }

  async function getDailyMetrics(date: string | undefined): Promise<DailyMetrics> {
    const day = dayOf(date);
    return cache.get(day, () => read(day));
  }
  /** `getDailyMetrics` when the day's answer is cached (see answerCache); undefined otherwise. */
  function ready(date: string | undefined): Promise<DailyMetrics> | undefined {
    const day = dayOf(date);
    return cache.ready(day, () => read(day));
  }
  return Object.assign(getDailyMetrics, { ready });
}

export type GetDailyMetrics = ReturnType<typeof createGetDailyMetrics>;
