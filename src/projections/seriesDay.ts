import { Binary } from 'mongodb';
import { bytesOfBinary } from '../mongo';
import { QUARTERS_PER_DAY } from '../events/chunkDetail';
import type { UserFingerprint } from '../events/userFingerprint';
import { byCodeUnits } from '../events/codeUnitOrder';

/**
 * One UTC day of the metric series, as stored (see metricSeries) and as worked on in memory.
 *
 * The day document holds, per event type, the count of each of the day's 96 quarter-hours that
 * has events (uint8 quarter, uint32 count, binary, sorted), and `dayOnly`, counts known per UTC
 * day only (see metricSeries). Its distinct users are in the day's own `users` per type (merged,
 * sorted) and in users documents beside it, one per page of records that added users to the day
 * since the last merge: per type, (uint8 quarter, uint64 fingerprint) entries. A users document
 * counts once the day's `lastPosition` has reached its `position`; before that its records' counts
 * are not in the day yet (see seriesDays). A user may be in both while a merge is being tidied up.
 */

export interface SeriesTypeDoc {
  eventType: string;
  counts: Binary;
  /** Users merged into the day (see metricSeries), (quarter, fingerprint) sorted, each once. */
  users?: Binary;
}

export interface SeriesDayDoc {
  _id: string;
  date: string;
  types: SeriesTypeDoc[];
  dayOnly: { eventType: string; count: number }[];
  lastPosition: number;
  /** Positions of this day's users documents not merged into it yet (see metricSeries). */
  usersDocs?: number[];
}

/** The users one page of records added to a day; `_id` is usersDocId(date, position). */
export interface SeriesUsersDoc {
  _id: string;
  date: string;
  /** The last log position whose users are in here. */
  position: number;
  types: { eventType: string; users: Binary }[];
}

/** What the metric series collection holds: days and, beside each, its users documents. */
export type SeriesStoredDoc = SeriesDayDoc | SeriesUsersDoc;

/** After the day's own `_id` (the date) and before the next day's, in position order. */
export function usersDocId(date: string, position: number): string {
  return `${date}/${String(position).padStart(15, '0')}`;
}

/** A day as queries read it: per type its counts and every binary of its users. */
export interface SeriesDay {
  date: string;
  types: { eventType: string; counts: Binary; users: Binary[] }[];
  dayOnly: { eventType: string; count: number }[];
}

const NO_COUNTS = new Binary(Buffer.alloc(0));

/**
 * The days among stored documents, each with the users of its users documents that count
 * (`position` within the day's `lastPosition`), sorted by date and type. With `wanted`, the other
 * types are left out before anything of theirs is looked at.
 */
export function seriesDays(docs: readonly SeriesStoredDoc[], wanted?: ReadonlySet<string>): SeriesDay[] {
  const asked = (eventType: string): boolean => wanted === undefined || wanted.has(eventType);
  const stored = new Map<string, SeriesDayDoc>();
  const usersDocs: SeriesUsersDoc[] = [];
  for (const doc of docs) {
    if ('position' in doc) usersDocs.push(doc);
    else stored.set(doc.date, doc);
  }
  const days = new Map<string, Map<string, { eventType: string; counts: Binary; users: Binary[] }>>();
  for (const doc of stored.values()) {
    days.set(
      doc.date,
      new Map(
        doc.types
          .filter((t) => asked(t.eventType))
          .map((t) => [
            t.eventType,
            { eventType: t.eventType, counts: t.counts, users: t.users === undefined ? [] : [t.users] },
          ]),
      ),
    );
  }
  for (const doc of usersDocs) {
    const types = days.get(doc.date);
    if (types === undefined || doc.position > (stored.get(doc.date)?.lastPosition ?? 0)) continue;
    for (const { eventType, users } of doc.types) {
      if (!asked(eventType)) continue;
      let type = types.get(eventType);
      if (type === undefined) types.set(eventType, (type = { eventType, counts: NO_COUNTS, users: [] }));
      type.users.push(users);
    }
  }
  return [...days]
    .sort(([a], [b]) => byCodeUnits(a, b))
    .map(([date, types]) => ({
      date,
      types: [...types.values()].sort((a, b) => byCodeUnits(a.eventType, b.eventType)),
      dayOnly: (stored.get(date)?.dayOnly ?? []).filter((c) => asked(c.eventType)),
    }));
}

/** One type's day in memory: counts per quarter-hour and the users of each quarter-hour. */
export interface TypeDay {
  counts: Float64Array;
  users: Set<UserFingerprint>[];
}

export function emptyTypeDay(): TypeDay {
  return {
    counts: new Float64Array(QUARTERS_PER_DAY),
    users: Array.from({ length: QUARTERS_PER_DAY }, () => new Set<UserFingerprint>()),
  };
}

/** Calls `each(quarter, count)` for every stored quarter-hour count of a type's day. */
export function forEachCount(counts: Binary, each: (quarter: number, count: number) => void): void {
  const bytes = bytesOfBinary(counts);
  for (let at = 0; at + 5 <= bytes.length; at += 5) each(bytes.readUInt8(at), bytes.readUInt32LE(at + 1));
}

/** Bytes of one stored (quarter-hour, user) entry. */
export const USER_ENTRY = 9;

/** Calls `each(quarter, high, low)` for every stored (quarter-hour, user); the fingerprint in two halves. */
export function forEachUser(users: Binary, each: (quarter: number, high: number, low: number) => void): void {
  const bytes = bytesOfBinary(users);
  for (let at = 0; at + USER_ENTRY <= bytes.length; at += USER_ENTRY) {
    each(bytes.readUInt8(at), bytes.readUInt32BE(at + 1), bytes.readUInt32BE(at + 5));
  }
}

export function decodeTypeDay(type: SeriesDay['types'][number]): TypeDay {
  const day = emptyTypeDay();
  forEachCount(type.counts, (quarter, count) => {
    day.counts[quarter] = count;
  });
  for (const users of type.users) {
    forEachUser(users, (quarter, high, low) => {
      day.users[quarter]?.add((BigInt(high) << 32n) | BigInt(low));
    });
  }
  return day;
}

/** The stored form of a day's 96 quarter-hour counts: (uint8 quarter, uint32 count) where not 0. */
export function encodeCounts(quarterCounts: Float64Array): Binary {
  const filled = quarterCounts.reduce((n, c) => (c > 0 ? n + 1 : n), 0);
  const counts = Buffer.alloc(filled * 5);
  let at = 0;
  quarterCounts.forEach((count, quarter) => {
    if (count === 0) return;
    counts.writeUInt8(quarter, at);
    counts.writeUInt32LE(count, at + 1);
    at += 5;
  });
  return new Binary(counts);
}

/** The stored form of users per quarter-hour: (uint8 quarter, uint64 fingerprint), sorted. */
export function encodeUsers(users: readonly Set<UserFingerprint>[]): Binary {
  const bytes = Buffer.alloc(users.reduce((n, set) => n + set.size, 0) * USER_ENTRY);
  let at = 0;
  users.forEach((set, quarter) => {
    for (const user of [...set].sort(byCodeUnits)) {
      bytes.writeUInt8(quarter, at);
      bytes.writeBigUInt64BE(user, at + 1);
      at += USER_ENTRY;
    }
  });
  return new Binary(bytes);
}

/**
 * A type's merged users with `added` runs of (quarter-hour, user) entries merged in, in the stored
 * order (quarter, then fingerprint) and each entry once. Linear in the stored entries: a merge that
 * adds a few users to a busy day neither decodes the day into sets nor sorts it again.
 */
export function mergeUsers(stored: Binary | undefined, added: readonly Buffer[]): Binary {
  const more: (readonly [number, number, number])[] = [];
  for (const run of added) {
    for (let i = 0; i + USER_ENTRY <= run.length; i += USER_ENTRY) {
      more.push([run[i] ?? 0, run.readUInt32BE(i + 1), run.readUInt32BE(i + 5)]);
    }
  }
  more.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const old = bytesOfBinary(stored);
  // Whole entries only, as forEachUser reads them.
  const end = old.length - (old.length % USER_ENTRY);
  const out = Buffer.alloc(end + more.length * USER_ENTRY);
  // Stored entry at byte `i` against (quarter, high, low): negative, 0 or positive.
  const compare = (i: number, quarter: number, high: number, low: number): number =>
    (old[i] ?? 0) - quarter || old.readUInt32BE(i + 1) - high || old.readUInt32BE(i + 5) - low;
  let at = 0;
  let read = 0;
  let previous: readonly [number, number, number] | undefined;
  for (const entry of more) {
    const [quarter, high, low] = entry;
    if (previous !== undefined && previous[0] === quarter && previous[1] === high && previous[2] === low)
      continue;
    previous = entry;
    // Copy the stored entries before this one in one go.
    const runStart = read;
    while (read < end && compare(read, quarter, high, low) < 0) read += USER_ENTRY;
    at += old.copy(out, at, runStart, read);
    if (read < end && compare(read, quarter, high, low) === 0) continue;
    out.writeUInt8(quarter, at);
    out.writeUInt32BE(high, at + 1);
    out.writeUInt32BE(low, at + 5);
    at += USER_ENTRY;
  }
  at += old.copy(out, at, read, end);
  return new Binary(out.subarray(0, at));
}
