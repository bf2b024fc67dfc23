import { Binary } from 'mongodb';
import { QUARTERS_PER_DAY } from '../events/chunkDetail';
import type { UserFingerprint } from '../events/userFingerprint';
import { byCodeUnits } from '../events/codeUnitOrder';

/**
 * One UTC day of the metric series, as stored (see metricSeries) and as worked on in memory.
 * Per event type: the count of each of the day's 96 quarter-hours that has events (uint8 quarter,
 * uint32 count) and its distinct users per quarter-hour (uint8 quarter, uint64 fingerprint), both
 * binary and sorted. `dayOnly` holds counts known per UTC day only (see metricSeries).
 */

export interface SeriesTypeDoc {
  eventType: string;
  counts: Binary;
  users: Binary;
}

export interface SeriesDayDoc {
  _id: string;
  date: string;
  types: SeriesTypeDoc[];
  dayOnly: { eventType: string; count: number }[];
  lastPosition: number;
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

export function bytesOf(value: unknown): Buffer {
  if (!(value instanceof Binary)) return Buffer.alloc(0);
  const bytes = value.buffer.subarray(0, value.length());
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Calls `each(quarter, count)` for every stored quarter-hour count of a type's day. */
export function forEachCount(doc: SeriesTypeDoc, each: (quarter: number, count: number) => void): void {
  const bytes = bytesOf(doc.counts);
  for (let at = 0; at + 5 <= bytes.length; at += 5) each(bytes.readUInt8(at), bytes.readUInt32LE(at + 1));
}

/** Calls `each(quarter, high, low)` for every stored (quarter-hour, user); the fingerprint in two halves. */
export function forEachUser(
  doc: SeriesTypeDoc,
  each: (quarter: number, high: number, low: number) => void,
): void {
  const bytes = bytesOf(doc.users);
  for (let at = 0; at + 9 <= bytes.length; at += 9) {
    each(bytes.readUInt8(at), bytes.readUInt32BE(at + 1), bytes.readUInt32BE(at + 5));
  }
}

export function decodeTypeDay(doc: SeriesTypeDoc): TypeDay {
  const day = emptyTypeDay();
  forEachCount(doc, (quarter, count) => {
    day.counts[quarter] = count;
  });
  forEachUser(doc, (quarter, high, low) => {
    day.users[quarter]?.add((BigInt(high) << 32n) | BigInt(low));
  });
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

const USER_ENTRY = 9;
const LOW_32 = 0xffffffffn;

/**
 * A type's stored users with `added` (quarter-hour, user) entries merged in, in the stored order
 * (quarter, then fingerprint) and each entry once. Linear in the stored entries: a page that adds a
 * few users to a busy day neither decodes the day into sets nor sorts it again (which made
 * processing and rebuilds several times slower).
 */
export function mergeUsers(
  stored: Binary | undefined,
  added: readonly (readonly [number, UserFingerprint])[],
): Binary {
  const more = added
    .map(([quarter, user]) => [quarter, Number(user >> 32n), Number(user & LOW_32)] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  const old = bytesOf(stored);
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

export function encodeTypeDay(eventType: string, day: TypeDay): SeriesTypeDoc {
  const counts = encodeCounts(day.counts);
  const userCount = day.users.reduce((n, set) => n + set.size, 0);
  const users = Buffer.alloc(userCount * 9);
  let at = 0;
  day.users.forEach((set, quarter) => {
    for (const user of [...set].sort(byCodeUnits)) {
      users.writeUInt8(quarter, at);
      users.writeBigUInt64BE(user, at + 1);
      at += 9;
    }
  });
  return { eventType, counts, users: new Binary(users) };
}
