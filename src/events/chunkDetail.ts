import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Binary } from 'mongodb';
import { z } from 'zod';
import { bytesOfBinary } from '../mongo';
import type { UserFingerprint } from './userFingerprint';
import { byCodeUnits } from './codeUnitOrder';

/**
 * What a processed chunk adds to the time series, carried by EventsProcessed v3: its counts per
 * (UTC quarter-hour, eventType) and its distinct (user, quarter-hour, eventType) triples. Every
 * real zone's offset is a whole number of quarter-hours, so any local day (or week, or month) is a
 * whole number of quarter-hours and sums of these give exact counts and distinct users in any zone.
 *
 * Kept small because the log is read back by every projector and rebuild: the types once per
 * chunk, and each table as columns of uint32 (quarters as deltas, sorted), deflated; user
 * fingerprints once per chunk (8 bytes each, they do not compress) with the triples pointing at them.
 * The layout is in docs/design.md.
 */

export const QUARTER_MS = 15 * 60_000;
export const QUARTERS_PER_DAY = 96;

const binary = z.custom<Binary>((value) => value instanceof Binary, 'a binary');

export const ChunkDetail = z.object({
  eventTypes: z.array(z.string().min(1)),
  /** The chunk's first UTC quarter-hour, counted from the epoch (may be negative). */
  firstQuarter: z.number().int(),
  /** Columns type, quarter delta, count. */
  counts: binary,
  /** The chunk's distinct user fingerprints, each two uint32 little-endian (high, low), sorted. */
  users: binary,
  /** Columns type, quarter delta, user index. */
  userQuarters: binary,
});
export type ChunkDetail = z.infer<typeof ChunkDetail>;

type Triple = [type: number, quarter: number, value: number];

function byTypeQuarterValue(a: Triple, b: Triple): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

function encodeTable(cells: Triple[], firstQuarter: number): Binary {
  cells.sort(byTypeQuarterValue);
  const n = cells.length;
  const columns = new Uint32Array(1 + 3 * n);
  columns[0] = n;
  let previous: Triple | undefined;
  cells.forEach(([type, quarter, value], i) => {
    const base = previous !== undefined && previous[0] === type ? previous[1] : firstQuarter;
    columns[1 + i] = type;
    columns[1 + n + i] = quarter - base;
    columns[1 + 2 * n + i] = value;
    previous = [type, quarter, value];
  });
  const bytes = Buffer.from(columns.buffer, columns.byteOffset, columns.byteLength);
  return new Binary(deflateRawSync(bytes));
}

/** Calls `each(eventType, quarter, value)` for every cell of a table, in stored order. */
function forEachCell(
  table: Binary,
  firstQuarter: number,
  eventTypes: readonly string[],
  each: (eventType: string, quarter: number, value: number) => void,
): void {
  const raw = inflateRawSync(bytesOfBinary(table));
  const columns = new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const n = columns[0] ?? 0;
  if (columns.length !== 1 + 3 * n) throw new Error('chunk detail: a table has the wrong size');
  let previousType = -1;
  let quarter = firstQuarter;
  for (let i = 0; i < n; i++) {
    const type = columns[1 + i] ?? 0;
    const eventType = eventTypes[type];
    if (eventType === undefined) throw new Error('chunk detail: a type index is out of range');
    quarter = (type === previousType ? quarter : firstQuarter) + (columns[1 + n + i] ?? 0);
    previousType = type;
    each(eventType, quarter, columns[1 + 2 * n + i] ?? 0);
  }
}

/** The detail of a chunk's countable events; every event must carry its user. */
export function detailOf(
  events: readonly (readonly [eventType: string, utcMillis: number, user?: UserFingerprint])[],
): ChunkDetail {
  const eventTypes: string[] = [];
  const typeIndex = new Map<string, number>();
  const users = new Map<UserFingerprint, number>();
  let firstQuarter = Number.POSITIVE_INFINITY;
  for (const [eventType, millis, user] of events) {
    if (!typeIndex.has(eventType)) typeIndex.set(eventType, typeIndex.size);
    if (user === undefined) throw new Error('chunk detail: an event has no user');
    users.set(user, 0);
    firstQuarter = Math.min(firstQuarter, Math.floor(millis / QUARTER_MS));
  }
  eventTypes.push(...typeIndex.keys());
  const sortedUsers = [...users.keys()].sort(byCodeUnits);
  sortedUsers.forEach((user, i) => users.set(user, i));
  if (!Number.isFinite(firstQuarter)) firstQuarter = 0;

  const counts = new Map<string, Triple>();
  const pairs = new Map<string, Triple>();
  for (const [eventType, millis, user] of events) {
    const type = typeIndex.get(eventType) ?? 0;
    const quarter = Math.floor(millis / QUARTER_MS);
    const cell = `${type}:${quarter}`;
    const counted = counts.get(cell);
    if (counted === undefined) counts.set(cell, [type, quarter, 1]);
    else counted[2] += 1;
    const userIndex = users.get(user ?? 0n) ?? 0;
    pairs.set(`${cell}:${userIndex}`, [type, quarter, userIndex]);
  }
  const userBytes = Buffer.alloc(sortedUsers.length * 8);
  sortedUsers.forEach((user, i) => {
    userBytes.writeUInt32LE(Number(user >> 32n), i * 8);
    userBytes.writeUInt32LE(Number(user & 0xffffffffn), i * 8 + 4);
  });
  return {
    eventTypes,
    firstQuarter,
    counts: encodeTable([...counts.values()], firstQuarter),
    users: new Binary(userBytes),
    userQuarters: encodeTable([...pairs.values()], firstQuarter),
  };
}

/** Calls `each(eventType, quarter, count)` for the count of every (UTC quarter-hour, eventType). */
export function forEachDetailCount(
  detail: ChunkDetail,
  each: (eventType: string, quarter: number, count: number) => void,
): void {
  forEachCell(detail.counts, detail.firstQuarter, detail.eventTypes, each);
}

/**
 * Calls `each(eventType, quarter, high, low)` for every distinct (user, quarter-hour, eventType),
 * the user's fingerprint in two 32-bit halves.
 */
export function forEachDetailUser(
  detail: ChunkDetail,
  each: (eventType: string, quarter: number, high: number, low: number) => void,
): void {
  const users = bytesOfBinary(detail.users);
  forEachCell(detail.userQuarters, detail.firstQuarter, detail.eventTypes, (eventType, quarter, index) => {
    if ((index + 1) * 8 > users.length) throw new Error('chunk detail: a user index is out of range');
    each(eventType, quarter, users.readUInt32LE(index * 8), users.readUInt32LE(index * 8 + 4));
  });
}
