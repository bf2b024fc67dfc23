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

export function encodeTypeDay(eventType: string, day: TypeDay): SeriesTypeDoc {
  const filled = day.counts.reduce((n, c) => (c > 0 ? n + 1 : n), 0);
  const counts = Buffer.alloc(filled * 5);
  let at = 0;
  day.counts.forEach((count, quarter) => {
    if (count === 0) return;
    counts.writeUInt8(quarter, at);
    counts.writeUInt32LE(count, at + 1);
    at += 5;
  });
  const userCount = day.users.reduce((n, set) => n + set.size, 0);
  const users = Buffer.alloc(userCount * 9);
  at = 0;
  day.users.forEach((set, quarter) => {
    for (const user of [...set].sort(byCodeUnits)) {
      users.writeUInt8(quarter, at);
      users.writeBigUInt64BE(user, at + 1);
      at += 9;
    }
  });
  return { eventType, counts: new Binary(counts), users: new Binary(users) };
}
