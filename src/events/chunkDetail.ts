import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Binary } from 'mongodb';
import { z } from 'zod';
import { bytesOfBinary } from '../mongo';
import type { UserFingerprint } from './userFingerprint';
import { byCodeUnits } from './codeUnitOrder';

/**
 * What a processed chunk adds to the time series, carried by EventsProcessed (v3 on): its counts per
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
  // Copied out: zlib's sync output of a small table is a view of a 16 KiB buffer, which a plan
  // holding thousands of small details (an erasure's) would keep alive.
  return new Binary(Buffer.from(deflateRawSync(bytes)));
}

/**
 * A table's cells as parallel columns: type index, absolute UTC quarter-hour and value, in stored
 * order (by type, then quarter-hour, then value).
 */
export interface DetailCells {
  length: number;
  types: Uint32Array;
  quarters: Int32Array;
  values: Uint32Array;
}

// A record's detail is read by every read model of a page (and a rebuild runs them all at once):
// each table is inflated once per deserialised record.
const decoded = new WeakMap<Binary, DetailCells>();

function cellsOfTable(table: Binary, firstQuarter: number, typeCount: number): DetailCells {
  const cached = decoded.get(table);
  if (cached !== undefined) return cached;
  const raw = inflateRawSync(bytesOfBinary(table));
  const columns = new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const n = columns[0] ?? 0;
  if (columns.length !== 1 + 3 * n) throw new Error('chunk detail: a table has the wrong size');
  const types = columns.subarray(1, 1 + n);
  const quarters = new Int32Array(n);
  let previousType = -1;
  let quarter = firstQuarter;
  for (let i = 0; i < n; i++) {
    const type = types[i] ?? 0;
    if (type >= typeCount) throw new Error('chunk detail: a type index is out of range');
    quarter = (type === previousType ? quarter : firstQuarter) + (columns[1 + n + i] ?? 0);
    previousType = type;
    quarters[i] = quarter;
  }
  const cells = { length: n, types, quarters, values: columns.subarray(1 + 2 * n) };
  decoded.set(table, cells);
  return cells;
}

/** The (type, UTC quarter-hour, count) cells of a detail. */
export function countCellsOf(detail: ChunkDetail): DetailCells {
  return cellsOfTable(detail.counts, detail.firstQuarter, detail.eventTypes.length);
}

/** The (type, UTC quarter-hour, user index) cells of a detail; `userHalves` gives the users. */
export function userCellsOf(detail: ChunkDetail): DetailCells {
  const cells = cellsOfTable(detail.userQuarters, detail.firstQuarter, detail.eventTypes.length);
  const users = Math.floor(bytesOfBinary(detail.users).length / 8);
  for (let i = 0; i < cells.length; i++) {
    if ((cells.values[i] ?? 0) >= users) throw new Error('chunk detail: a user index is out of range');
  }
  return cells;
}

/** A detail's user fingerprints as 32-bit halves: user i is words (2i, 2i + 1), high then low. */
export function userHalves(detail: ChunkDetail): Uint32Array {
  const users = bytesOfBinary(detail.users);
  const halves = new Uint32Array(Math.floor(users.length / 4));
  for (let i = 0; i < halves.length; i++) halves[i] = users.readUInt32LE(i * 4);
  return halves;
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
  const { length, types, quarters, values } = countCellsOf(detail);
  for (let i = 0; i < length; i++) {
    each(detail.eventTypes[types[i] ?? 0] ?? '', quarters[i] ?? 0, values[i] ?? 0);
  }
}
