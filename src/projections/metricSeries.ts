import type { Binary } from 'mongodb';
import type { Db } from 'mongodb';
import { detailCounts, detailUsers, QUARTERS_PER_DAY } from '../events/chunkDetail';
import { utcDate } from '../events/dailyCounts';
import type { AnyLogRecord } from '../events/eventLog';
import type { UserFingerprint } from '../events/userFingerprint';
import { planDayWrites, type Projection, type Write } from './projection';
import { encodeCounts, forEachCount, mergeUsers, type SeriesDayDoc } from './seriesDay';
import { byCodeUnits } from '../events/codeUnitOrder';

/**
 * The metric series: one document per UTC day (see seriesDay) with, per event type, its counts and
 * distinct users per UTC quarter-hour, from the detail of EventsProcessed v2. A query in any zone
 * and interval sums the quarter-hours of its buckets (every real zone's offset is a whole number of
 * quarter-hours) and unites their users, so counts and unique users are exact.
 *
 * Records without detail (EventsProcessed v1, or chunks stored before chunk documents kept users)
 * add to the day's `dayOnly` counts: they answer a bucket that holds their whole UTC day (any
 * bucket in UTC), never a bucket that splits it, and never unique users.
 *
 * One document per day, like dailyMetrics, so a page costs one read and one write per day it
 * touches; each write is conditional on the `lastPosition` read, so replaying a page adds nothing.
 */

const DAY_MS = 86_400_000;

interface Pending {
  position: number;
  counts: [eventType: string, quarter: number, count: number][];
  users: [eventType: string, quarter: number, user: UserFingerprint][];
  dayOnly: [eventType: string, count: number][];
}

/** Dates by day number: formatting a date for every cell of every record was a third of a rebuild. */
const dates = new Map<number, string>();

function dayOf(quarter: number): { date: string; inDay: number } {
  const day = Math.floor(quarter / QUARTERS_PER_DAY);
  let date = dates.get(day);
  if (date === undefined) {
    date = utcDate(new Date(day * DAY_MS));
    if (dates.size > 100_000) dates.clear();
    dates.set(day, date);
  }
  return { date, inDay: quarter - day * QUARTERS_PER_DAY };
}

/** What each record of a page adds to each day, in log order. */
function pendingByDay(records: readonly AnyLogRecord[]): Map<string, Pending[]> {
  const byDay = new Map<string, Pending[]>();
  const pendingOf = (date: string, position: number): Pending => {
    const list = byDay.get(date) ?? [];
    byDay.set(date, list);
    let last = list.at(-1);
    if (last?.position !== position) {
      last = { position, counts: [], users: [], dayOnly: [] };
      list.push(last);
    }
    return last;
  };
  for (const record of records) {
    if (record.type !== 'EventsProcessed') continue;
    const { detail } = record.data;
    if (detail === null) {
      for (const { date, eventType, count } of record.data.counts)
        pendingOf(date, record.position).dayOnly.push([eventType, count]);
      continue;
    }
    for (const { eventType, quarter, value } of detailCounts(detail)) {
      const { date, inDay } = dayOf(quarter);
      pendingOf(date, record.position).counts.push([eventType, inDay, value]);
    }
    for (const { eventType, quarter, user } of detailUsers(detail)) {
      const { date, inDay } = dayOf(quarter);
      pendingOf(date, record.position).users.push([eventType, inDay, user]);
    }
  }
  return byDay;
}

/** The day after adding what came after its `lastPosition`; null when nothing did. */
function addPending(stored: SeriesDayDoc | null, date: string, parts: Pending[]): SeriesDayDoc | null {
  const after = stored?.lastPosition ?? 0;
  const pending = parts.filter((p) => p.position > after);
  const last = pending.at(-1);
  if (last === undefined) return null;
  // Counts are decoded (at most 96 a type); users stay binary and the new ones are merged in.
  const types = new Map<
    string,
    { counts: Float64Array; users: Binary | undefined; added: [number, UserFingerprint][] }
  >();
  for (const doc of stored?.types ?? []) {
    const counts = new Float64Array(QUARTERS_PER_DAY);
    forEachCount(doc, (quarter, count) => {
      counts[quarter] = count;
    });
    types.set(doc.eventType, { counts, users: doc.users, added: [] });
  }
  const typeDay = (eventType: string) => {
    let day = types.get(eventType);
    if (day === undefined) {
      day = { counts: new Float64Array(QUARTERS_PER_DAY), users: undefined, added: [] };
      types.set(eventType, day);
    }
    return day;
  };
  const dayOnly = new Map((stored?.dayOnly ?? []).map((c) => [c.eventType, c.count]));
  for (const part of pending) {
    for (const [eventType, quarter, count] of part.counts) {
      const { counts } = typeDay(eventType);
      counts[quarter] = (counts[quarter] ?? 0) + count;
    }
    for (const [eventType, quarter, user] of part.users) typeDay(eventType).added.push([quarter, user]);
    for (const [eventType, count] of part.dayOnly)
      dayOnly.set(eventType, (dayOnly.get(eventType) ?? 0) + count);
  }
  return {
    _id: date,
    date,
    types: [...types.keys()].sort(byCodeUnits).map((eventType) => {
      const day = typeDay(eventType);
      return { eventType, counts: encodeCounts(day.counts), users: mergeUsers(day.users, day.added) };
    }),
    dayOnly: [...dayOnly]
      .sort(([a], [b]) => byCodeUnits(a, b))
      .map(([eventType, count]) => ({ eventType, count })),
    lastPosition: last.position,
  };
}

export const metricSeriesProjection: Projection = {
  name: 'metricSeries',

  async ensureIndexes() {
    // Days are written by `_id` and read as a range of `_id`.
  },

  async planPage(db: Db, collectionName: string, records: readonly AnyLogRecord[]): Promise<Write[]> {
    const collection = db.collection<SeriesDayDoc>(collectionName);
    return planDayWrites(collection, pendingByDay(records), addPending);
  },
};
