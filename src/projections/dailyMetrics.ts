import type { Db } from 'mongodb';
import { SHARDS, shardOf } from './seriesMonth';
import { dayCountsOf } from '../events/dailyCounts';
import type { CountedRecord } from '../events/corrections';
import {
  partsAfter,
  planSplitPage,
  recallFrom,
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
 *
 * A day with more types than one document should hold (SPLIT_ABOVE_BYTES of names, tens of
 * thousands of types: a producer that puts ids in the event type) keeps its counts in DAY_PARTS
 * part documents, `<date>/<part>`, each for the types of one shard (shardOf); the day's document
 * then holds none and says `split`. As with the series (see metricSeries), which layout is a
 * function of the content and every page that touches a split day writes all of it.
 */
export interface DailyMetricsDoc {
  _id: string;
  date: string;
  /** On a day's document: its counts are in its parts. */
  split?: true;
  /** On a part: the shard of the types it counts. */
  part?: number;
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

/** A day whose counts would take more bytes than this (names and counts, roughly) is split. */
export const SPLIT_ABOVE_BYTES = 8 * 1024 * 1024;
/** One part per type shard (shardOf). */
const DAY_PARTS = SHARDS;

/** Roughly the bytes a day's counts take in BSON. */
function countsBytes(counts: readonly EventTypeCount[]): number {
  return counts.reduce((sum, c) => sum + Buffer.byteLength(c.eventType) + 40, 0);
}

/** The part documents a split day keeps its counts in. */
export const partIdsOf = (date: string): string[] =>
  Array.from({ length: DAY_PARTS }, (_, part) => `${date}/${part}`);

/**
 * The days among `docs`, each split one with its parts' counts (parts of a day that is not split,
 * left by an interrupted write, are not counted): what the days hold, however they are stored.
 */
export function wholeDays(docs: readonly DailyMetricsDoc[]): DailyMetricsDoc[] {
  const parts = new Map<string, DailyMetricsDoc[]>();
  for (const doc of docs) {
    if (doc.part === undefined) continue;
    const list = parts.get(doc.date);
    if (list === undefined) parts.set(doc.date, [doc]);
    else list.push(doc);
  }
  return docs
    .filter((doc) => doc.part === undefined)
    .map((doc) => {
      if (doc.split !== true) return doc;
      const { split: _split, ...day } = doc;
      const counts = (parts.get(doc.date) ?? []).flatMap((part) => part.counts).sort(byEventType);
      return { ...day, counts };
    });
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

/** Where the stored days break their layout: a split day with counts, a part of a day not split, a type in another part. */
export function dayLayoutProblems(docs: readonly DailyMetricsDoc[]): string[] {
  const split = new Set(docs.filter((doc) => doc.split === true).map((doc) => doc.date));
  const problems: string[] = [];
  for (const doc of docs) {
    if (doc.part === undefined) {
      if (doc.split === true && doc.counts.length > 0)
        problems.push(`daily metrics ${doc._id}: split, yet holds counts`);
    } else if (!split.has(doc.date) || doc._id !== `${doc.date}/${doc.part}`) {
      problems.push(`daily metrics ${doc._id}: a part of a day that is not split (an interrupted write)`);
    } else if (doc.counts.some((c) => shardOf(c.eventType) !== doc.part)) {
      problems.push(`daily metrics ${doc._id}: counts a type of another part`);
    }
  }
  return problems;
}

type DayKeys = Omit<DailyMetricsDoc, 'counts' | 'lastPosition'>;

const dayKeys = (date: string): DayKeys => ({ _id: date, date, year: date.slice(0, 4) });

const partKeys = (date: string, part: number): DayKeys => ({
  ...dayKeys(date),
  _id: `${date}/${part}`,
  part,
});

/** Days split by the types' shard; `bound` is the projection's. */
const DAY_LAYOUT = {
  isDoc: isDailyMetricsDoc,
  partIdsOf,
  size: (doc: DailyMetricsDoc): number => countsBytes(doc.counts),
  split(whole: DailyMetricsDoc): { doc: DailyMetricsDoc; parts: DailyMetricsDoc[] } {
    return {
      doc: { ...whole, split: true, counts: [] },
      parts: partIdsOf(whole.date).map((_id, part) => ({
        ...partKeys(whole.date, part),
        counts: whole.counts.filter((c) => shardOf(c.eventType) === part),
        lastPosition: whole.lastPosition,
      })),
    };
  },
  join(day: DailyMetricsDoc, parts: readonly DailyMetricsDoc[]): DailyMetricsDoc {
    return wholeDays([day, ...parts])[0] ?? day;
  },
  bytes: (doc: DailyMetricsDoc): number => 128 + 64 * doc.counts.length,
};

/**
 * The day (or part) after adding the contributions past its `lastPosition` of the types `counted`
 * keeps; null when there are none (of any type: every document of a split day moves together).
 */
function addPending(
  stored: DailyMetricsDoc | null,
  keys: DayKeys,
  parts: Contribution[],
  counted: (eventType: string) => boolean = () => true,
): DailyMetricsDoc | null {
  const pending = partsAfter(stored, parts);
  const last = pending.at(-1);
  if (last === undefined) return null;
  const counts = new Map((stored?.counts ?? []).map((c) => [c.eventType, c.count]));
  for (const { eventType, count } of pending) {
    if (counted(eventType)) counts.set(eventType, (counts.get(eventType) ?? 0) + count);
  }
  return {
    ...keys,
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
export function createDailyMetricsProjection(options: { splitAboveBytes?: number } = {}): Projection {
  const splitAbove = options.splitAboveBytes ?? SPLIT_ABOVE_BYTES;
  return {
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
      for (const doc of found.flat())
        if (!stored.has(doc._id)) stored.set(doc._id, { doc, fromMemory: false });
      const storedDoc = (id: string): DailyMetricsDoc | null => stored.get(id)?.doc ?? null;
      const layout = { ...DAY_LAYOUT, bound: splitAbove };
      return planSplitPage(collection, layout, [...byDay.keys()], stored, memory, {
        whole: (date) => addPending(storedDoc(date), dayKeys(date), byDay.get(date) ?? []),
        split(date) {
          const parts = byDay.get(date) ?? [];
          // Every contribution's position counts, so all of a split day moves to one position.
          return {
            doc: addPending(storedDoc(date), { ...dayKeys(date), split: true }, parts, () => false),
            parts: partIdsOf(date).map((id, part) =>
              addPending(storedDoc(id), partKeys(date, part), parts, (type) => shardOf(type) === part),
            ),
          };
        },
      });
    },
  };
}

export const dailyMetricsProjection = createDailyMetricsProjection();
