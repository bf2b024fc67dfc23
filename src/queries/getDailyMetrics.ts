import type { Db } from 'mongodb';
import { ValidationError } from '../errors';
import type { DailyMetricDoc } from '../projections/dailyMetrics';
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
    const collection = await liveCollection<DailyMetricDoc>(deps.db, 'dailyMetrics');
    const docs = await collection.find({ date: day }).toArray();
    const metrics = docs
      .filter((d) => d.count > 0)
      .map((d) => ({ eventType: d.eventType, count: d.count }))
      // Code-unit order: the same on every database, unlike a server-side collation.
      .sort((a, b) => (a.eventType < b.eventType ? -1 : a.eventType > b.eventType ? 1 : 0));
    return { date: day, metrics };
  };
}

export type GetDailyMetrics = ReturnType<typeof createGetDailyMetrics>;
