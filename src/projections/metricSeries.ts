import { Binary, type Collection, type Db } from 'mongodb';
import { forEachDetailCount, forEachDetailUser, QUARTERS_PER_DAY } from '../events/chunkDetail';
import { dateOfDay } from '../events/dailyCounts';
import type { AnyLogRecord } from '../events/eventLog';
import { bytesOfBinary } from '../mongo';
import {
  insertOnce,
  partsAfter,
  putOver,
  readDays,
  writeOver,
  type Projection,
  type Write,
} from './projection';
import {
  encodeCounts,
  forEachCount,
  mergeUsers,
  USER_ENTRY,
  usersDocId,
  type SeriesDayDoc,
  type SeriesUsersDoc,
} from './seriesDay';
import { byCodeUnits } from '../events/codeUnitOrder';

/**
 * The metric series: one document per UTC day (see seriesDay) with, per event type, its counts per
 * UTC quarter-hour, and beside it users documents with the distinct users per quarter-hour, from
 * the detail of EventsProcessed v2. A query in any zone and interval sums the quarter-hours of its
 * buckets (every real zone's offset is a whole number of quarter-hours) and unites their users,
 * so counts and unique users are exact.
 *
 * Records without detail (EventsProcessed v1, or chunks stored before chunk documents kept users)
 * add to the day's `dayOnly` counts: they answer a bucket that holds their whole UTC day (any
 * bucket in UTC), never a bucket that splits it, and never unique users.
 *
 * A page costs one read and one write per day it touches, like dailyMetrics; each write is
 * conditional on the `lastPosition` read, so replaying a page adds nothing. The users a page adds
 * to a day go first into a users document of their own (keyed by the day and the page's last
 * position, so a replay inserts the same key again, which is ignored), listed in the day's
 * `usersDocs`; every MERGE_AT-th page merges the listed documents and its own users into the day
 * (sorted, each once) and then deletes them. Users used to be merged into the day on every page,
 * rewriting it whole for each of them; never merging leaves hundreds of small users documents for
 * a query to read, and FerretDB pays per document returned, hence the merge (docs/performance.md).
 *
 * How the log was paged decides which users sit in the day and which beside it, so a rebuild gives
 * the same days, counts and users as the live read model, not the same documents.
 */

/** One record's additions to one day. */
interface Pending {
  position: number;
  counts: [eventType: string, quarter: number, count: number][];
  /** Per type, (uint8 quarter, uint64 user) entries. */
  users: Map<string, EntryRun>;
  dayOnly: [eventType: string, count: number][];
}

/** A growing run of users entries, copied from a detail's user table as they are. */
class EntryRun {
  private bytes = Buffer.allocUnsafe(16 * USER_ENTRY);
  length = 0;

  add(quarter: number, users: Buffer, offset: number): void {
    if (this.length + USER_ENTRY > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(this.bytes.length * 2);
      this.bytes.copy(bigger, 0, 0, this.length);
      this.bytes = bigger;
    }
    const bytes = this.bytes;
    const at = this.length;
    bytes[at] = quarter;
    // Byte by byte: Buffer.copy costs more than this for 8 bytes.
    for (let i = 0; i < 8; i++) bytes[at + 1 + i] = users[offset + i] ?? 0;
    this.length += USER_ENTRY;
  }

  view(): Buffer {
    return this.bytes.subarray(0, this.length);
  }
}

/** Users documents a day keeps beside it at most before a page merges them into the day. */
const MERGE_AT = 16;

/** Dates by day number: formatting a date for every cell of every record was a third of a rebuild. */
const dates = new Map<number, string>();

function cachedDateOfDay(day: number): string {
  let date = dates.get(day);
  if (date === undefined) {
    date = dateOfDay(day);
    if (dates.size > 100_000) dates.clear();
    dates.set(day, date);
  }
  return date;
}

/** What each record of a page adds to each day, in log order. */
function pendingByDay(records: readonly AnyLogRecord[]): Map<string, Pending[]> {
  const byDay = new Map<string, Pending[]>();
  const pendingOf = (date: string, position: number): Pending => {
    const list = byDay.get(date) ?? [];
    byDay.set(date, list);
    let last = list.at(-1);
    if (last?.position !== position) {
      last = { position, counts: [], users: new Map(), dayOnly: [] };
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
    // Cells come sorted by type and quarter-hour, so mostly several in a row share a day: the
    // day's Pending is looked up once per run of them.
    let day = Number.NaN;
    let pending: Pending | undefined;
    const dayPart = (quarter: number): Pending => {
      const of = Math.floor(quarter / QUARTERS_PER_DAY);
      if (of !== day || pending === undefined) {
        day = of;
        pending = pendingOf(cachedDateOfDay(of), record.position);
      }
      return pending;
    };
    forEachDetailCount(detail, (eventType, quarter, count) => {
      dayPart(quarter).counts.push([eventType, quarter - day * QUARTERS_PER_DAY, count]);
    });
    forEachDetailUser(detail, (eventType, quarter, users, offset) => {
      const runs = dayPart(quarter).users;
      let run = runs.get(eventType);
      if (run === undefined) runs.set(eventType, (run = new EntryRun()));
      run.add(quarter - day * QUARTERS_PER_DAY, users, offset);
    });
  }
  return byDay;
}

/** Per type, the users entries the parts add. */
function usersOf(parts: readonly Pending[]): Map<string, Buffer[]> {
  const runs = new Map<string, Buffer[]>();
  for (const part of parts) {
    for (const [eventType, run] of part.users) {
      const list = runs.get(eventType) ?? [];
      list.push(run.view());
      runs.set(eventType, list);
    }
  }
  return runs;
}

/**
 * The day after adding `pending` (the parts after its `lastPosition`): counts added, the users of
 * `merge` merged into its own, and `usersDocs` listing the users documents beside it.
 */
function nextDay(
  stored: SeriesDayDoc | null,
  date: string,
  pending: readonly Pending[],
  users: { merge: ReadonlyMap<string, readonly Buffer[]>; usersDocs: number[] },
): SeriesDayDoc {
  const types = new Map<string, { counts: Float64Array; users: Binary | undefined }>();
  for (const doc of stored?.types ?? []) {
    const counts = new Float64Array(QUARTERS_PER_DAY);
    forEachCount(doc.counts, (quarter, count) => {
      counts[quarter] = count;
    });
    types.set(doc.eventType, { counts, users: doc.users });
  }
  const typeDay = (eventType: string) => {
    let day = types.get(eventType);
    if (day === undefined) {
      day = { counts: new Float64Array(QUARTERS_PER_DAY), users: undefined };
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
    for (const [eventType, count] of part.dayOnly)
      dayOnly.set(eventType, (dayOnly.get(eventType) ?? 0) + count);
  }
  for (const [eventType, runs] of users.merge) {
    const day = typeDay(eventType);
    day.users = mergeUsers(day.users, runs);
  }
  return {
    _id: date,
    date,
    types: [...types.keys()].sort(byCodeUnits).map((eventType) => {
      const { counts, users: merged } = typeDay(eventType);
      return merged === undefined
        ? { eventType, counts: encodeCounts(counts) }
        : { eventType, counts: encodeCounts(counts), users: merged };
    }),
    dayOnly: [...dayOnly]
      .sort(([a], [b]) => byCodeUnits(a, b))
      .map(([eventType, count]) => ({ eventType, count })),
    lastPosition: pending.at(-1)?.position ?? stored?.lastPosition ?? 0,
    ...(users.usersDocs.length > 0 ? { usersDocs: users.usersDocs } : {}),
  };
}

function usersDoc(
  date: string,
  position: number,
  runs: ReadonlyMap<string, readonly Buffer[]>,
): SeriesUsersDoc {
  return {
    _id: usersDocId(date, position),
    date,
    position,
    types: [...runs.keys()]
      .sort(byCodeUnits)
      .map((eventType) => ({ eventType, users: new Binary(Buffer.concat(runs.get(eventType) ?? [])) })),
  };
}

/**
 * The writes of one day for a page: the users the page adds in a new users document, then the day;
 * or, when the day already has MERGE_AT - 1 users documents, one write that merges them and the
 * page's users into the day and, once that write has landed, deletes them.
 */
function dayWrites(
  days: Collection<SeriesDayDoc>,
  users: Collection<SeriesUsersDoc>,
  stored: SeriesDayDoc | null,
  date: string,
  parts: Pending[],
): Write[] {
  const pending = partsAfter(stored, parts);
  const last = pending.at(-1)?.position;
  if (last === undefined) return [];
  const runs = usersOf(pending);
  const listed = stored?.usersDocs ?? [];
  if (runs.size === 0)
    return [writeOver(days, stored, nextDay(stored, date, pending, { merge: new Map(), usersDocs: listed }))];
  if (listed.length < MERGE_AT - 1) {
    return [
      insertOnce(users, usersDoc(date, last, runs)),
      writeOver(
        days,
        stored,
        nextDay(stored, date, pending, { merge: new Map(), usersDocs: [...listed, last] }),
      ),
    ];
  }
  return [
    async () => {
      // `runs` is this page's own: the listed documents' users join it.
      for (const doc of await Promise.all(listed.map((p) => users.findOne({ _id: usersDocId(date, p) })))) {
        for (const type of doc?.types ?? []) {
          const list = runs.get(type.eventType) ?? [];
          list.push(bytesOfBinary(type.users));
          runs.set(type.eventType, list);
        }
      }
      if (!(await putOver(days, stored, nextDay(stored, date, pending, { merge: runs, usersDocs: [] }))))
        return;
      // A crash here leaves users documents that are merged already: a union counts them once.
      for (const position of listed) await users.deleteOne({ _id: usersDocId(date, position) });
    },
  ];
}

export const metricSeriesProjection: Projection = {
  name: 'metricSeries',

  async ensureIndexes() {
    // Days and their users documents are written by `_id` and read as a range of `_id`.
  },

  async planPage(db: Db, collectionName: string, records: readonly AnyLogRecord[]): Promise<Write[]> {
    const days = db.collection<SeriesDayDoc>(collectionName);
    const users = db.collection<SeriesUsersDoc>(collectionName);
    return (await readDays(days, pendingByDay(records))).flatMap(({ date, part, stored }) =>
      dayWrites(days, users, stored, date, part),
    );
  },
};
