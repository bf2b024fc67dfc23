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

export function createGetDailyMetrics(deps: { db: Db; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  return async function getDailyMetrics(date: string | undefined): Promise<DailyMetrics> {
    const day = date ?? now().toISOString().slice(0, 10);
    if (!isCalendarDate(day)) {
      throw new ValidationError('date must be a calendar date written as YYYY-MM-DD (UTC)', { date });
    }
    const collection = await liveCollection<DailyMetricsDoc>(deps.db, 'dailyMetrics');
    const doc = await collection.findOne({ _id: day });
    // Stored sorted by eventType (code-unit order), so the answer is the document as it is.
    const metrics = (doc?.counts ?? []).filter((c) => c.count > 0);
    return { date: day, metrics };
  };
}

export type GetDailyMetrics = ReturnType<typeof createGetDailyMetrics>;
