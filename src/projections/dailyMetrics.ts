import type { Db } from 'mongodb';
import { dayCountsOf } from '../events/dailyCounts';
import type { CountedRecord } from '../events/corrections';
import {
  partsAfter,
  recallFrom,
  writesOf,
  type Planned,
  type PositionedDoc,
  type Projection,
  type Write,
} from './projection';
import { byCodeUnits } from '../events/codeUnitOrder';

export interface EventTypeCount {
  eventType: string;
  count: number;
}

/**
 * One document per UTC day holding the count of every event type that day, sorted by eventType.
 * A day is what the metrics query asks for, so it is one primary-key read; and a page of records
 * costs one write per day it touches (each rewrites the whole document, so fewer writes matter most).
 * Event types live in an array, not as field names: they may contain `.` or start with `$`.
 */
export interface DailyMetricsDoc {
  _id: string;
  date: string;
  /** `YYYY`: a page reads the days of a year with one equality query (see planPage). */
  year: string;
  counts: EventTypeCount[];
  lastPosition: number;
}

/** Code-unit order: the same on every database, unlike a server-side collation. */
export function byEventType(a: EventTypeCount, b: EventTypeCount): number {
  return byCodeUnits(a.eventType, b.eventType);
}

/** Every (date, eventType, count) of some day documents: what a recount compares against. */
export function* flattenDailyMetrics(
  docs: Iterable<DailyMetricsDoc>,
): Generator<{ date: string; eventType: string; count: number }> {
  for (const doc of docs)
    for (const { eventType, count } of doc.counts) yield { date: doc.date, eventType, count };
}

interface Contribution {
  position: number;
  eventType: string;
  count: number;
}

function isDailyMetricsDoc(doc: PositionedDoc): doc is DailyMetricsDoc {
  return 'date' in doc && 'counts' in doc;
}

function contributionsByDay(page: readonly CountedRecord[]): Map<string, Contribution[]> {
  const byDay = new Map<string, Contribution[]>();
  for (const { record, effects } of page) {
    for (const { sign, detail } of effects) {
      for (const { date, eventType, count } of dayCountsOf(detail)) {
        const list = byDay.get(date);
        const entry = { position: record.position, eventType, count: sign * count };
        if (list === undefined) byDay.set(date, [entry]);
        else list.push(entry);
      }
    }
  }
  return byDay;
}

/** The day after adding the contributions past its `lastPosition`; null when there are none. */
function addPending(
  stored: DailyMetricsDoc | null,
  date: string,
  parts: Contribution[],
): DailyMetricsDoc | null {
  const pending = partsAfter(stored, parts);
  const last = pending.at(-1);
  if (last === undefined) return null;
  const counts = new Map((stored?.counts ?? []).map((c) => [c.eventType, c.count]));
  for (const { eventType, count } of pending) counts.set(eventType, (counts.get(eventType) ?? 0) + count);
  return {
    _id: date,
    date,
    year: date.slice(0, 4),
    // A type whose events were all taken back out is gone from the day, as if never counted.
    counts: [...counts]
      .filter(([, count]) => count > 0)
      .map(([eventType, count]) => ({ eventType, count }))
      .sort(byEventType),
    lastPosition: last.position,
  };
}

/**
 * Adds what a page's records change (EventsProcessed added, retractions and erasures withdrawn:
 * see corrections), its quarter-hours summed per UTC day, to their days: one read per year (of the
 * days the memory does not know) and one write per day.
 * Only contributions after the stored `lastPosition` are added, and the replace requires that
 * `lastPosition` to be unchanged, so replaying a page (after a crash, say) adds nothing twice.
 */
export const dailyMetricsProjection: Projection = {
  name: 'dailyMetrics',

  async ensureIndexes(db: Db, collectionName: string) {
    // Days are written by `_id` and read by `_id` (a query) or `year` (a page).
    await db
      .collection<DailyMetricsDoc>(collectionName)
      .createIndex({ year: 1 }, { name: 'year' }, undefined);
  },

  async planPage(db, collectionName, page, _report, memory): Promise<Write[]> {
    const collection = db.collection<DailyMetricsDoc>(collectionName);
    const byDay = contributionsByDay(page);
    const { known: stored, unknown } = recallFrom(memory, byDay.keys(), isDailyMetricsDoc);
    // One query per year, not one read per day (a FerretDB without index twins scans for each).
    const years = [...new Set(unknown.map((date) => date.slice(0, 4)))];
    const found = await Promise.all(years.map((year) => collection.find({ year }).toArray()));
    for (const doc of found.flat()) if (!stored.has(doc._id)) stored.set(doc._id, { doc, fromMemory: false });
    const planned: Planned<DailyMetricsDoc>[] = [];
    for (const [date, parts] of byDay) {
      const before = stored.get(date) ?? { doc: null, fromMemory: false };
      const next = addPending(before.doc, date, parts);
      if (next !== null) planned.push({ stored: before, next, bytes: 128 + 64 * next.counts.length });
    }
    return writesOf(collection, planned, memory);
  },
};
