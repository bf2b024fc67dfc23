import { endianness } from 'node:os';
import { Binary } from 'mongodb';
import { QUARTER_MS } from '../events/chunkDetail';
import { utcDayStart } from '../events/dailyCounts';
import { bytesOfBinary } from '../mongo';
import { byCodeUnits } from '../events/codeUnitOrder';

/**
 * The metric series as stored (see metricSeries): one document per (UTC month, type shard), the
 * shard a hash of the event type into SHARDS groups, so a query for a few types reads a few
 * documents per month, and reads select a year's documents (or a year's of one shard) with one
 * equality query: fewer, wider queries win, and a FerretDB without the stack's index twins scans
 * the whole table for each (docs/design.md). A (month, shard) with more users than one document
 * should hold (SPLIT_ABOVE_USERS) keeps them in USER_PARTS part documents by their fingerprint's
 * high bits (see metricSeries): each user in one part, the counts in the month's document.
 *
 * One binary layout, little-endian uint32 words throughout (docs/design.md), per type:
 * `counts` is (quarter-hour of the month, count) pairs in quarter order, for quarter-hours with
 * events; `users` is (quarter-hour of the month, fingerprint high, fingerprint low, holders) quads
 * in that order, each distinct (user, quarter-hour) once, `holders` the number of counted chunks
 * that have the user in that quarter-hour: a retraction or an erasure lowers it, and the user is
 * gone from the quarter-hour when no chunk holds them there any more. A document's content depends only on the records
 * applied to it, never on how the log was paged: a rebuild gives the same documents.
 */

export const SHARDS = 16;

/**
 * A (month, shard) whose (quarter-hour, user) entries would be more than this (16 bytes each, about
 * 9.6 MB: MongoDB holds 16 MiB a document) keeps its users in USER_PARTS part documents.
 */
export const SPLIT_ABOVE_USERS = 600_000;

/** Part documents of a split (month, shard), each for the users of one value of partOf. */
export const USER_PARTS = 16;

/** The part holding a user: the top four bits of their fingerprint's high half. */
export function partOf(high: number): number {
  return high >>> 28;
}

/** Words per user entry: quarter-hour, fingerprint high, fingerprint low, holders. */
export const USER_WORDS = 4;

export interface SeriesTypeDoc {
  eventType: string;
  counts: Binary;
  users: Binary;
}

export interface SeriesMonthDoc {
  /** `<YYYY-MM>/<shard, two digits>`, and `/<part>` after it for a part document. */
  _id: string;
  month: string;
  /** On a month's document: its users are in its part documents; it keeps the counts. */
  split?: true;
  /** On a part document: which users it holds (partOf); its types have no counts. */
  part?: number;
  /** `<YYYY>` and `<YYYY>/<shard>`: what reads select by (one equality query a year). */
  year: string;
  yearShard: string;
  types: SeriesTypeDoc[];
  lastPosition: number;
}

export function isSeriesMonthDoc(doc: { _id: string }): doc is SeriesMonthDoc {
  return 'types' in doc && Array.isArray(doc.types) && 'month' in doc;
}

/** About the bytes a document holds in memory. */
export function seriesDocBytes(doc: SeriesMonthDoc): number {
  return doc.types.reduce(
    (sum, t) => sum + 64 + 2 * t.eventType.length + t.counts.length() + t.users.length(),
    128,
  );
}

/** FNV-1a over UTF-16 code units: the same shard for a type on every platform and version. */
export function shardOf(eventType: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < eventType.length; i++) {
    hash ^= eventType.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % SHARDS;
}

export function monthDocId(month: string, shard: number): string {
  return `${month}/${String(shard).padStart(2, '0')}`;
}

export function partDocId(monthId: string, part: number): string {
  return `${monthId}/${part}`;
}

/** The `_id` of the month's document a part document belongs to (see partDocId). */
function monthIdOfPart(partId: string): string {
  return partId.slice(0, partId.lastIndexOf('/'));
}

/** The (quarter-hour, user) entries a document holds. */
export function userEntries(doc: SeriesMonthDoc): number {
  return doc.types.reduce((sum, t) => sum + Math.floor(t.users.length() / (4 * USER_WORDS)), 0);
}

/**
 * The month documents among `docs`, each split one with its parts' users (ordered by quarter-hour,
 * then user) as if it held them: what a (month, shard) holds, however it is stored. Parts of a
 * month that is not split (an interrupted write left them) are not counted.
 */
export function wholeMonths(docs: readonly SeriesMonthDoc[]): SeriesMonthDoc[] {
  const parts = new Map<string, SeriesMonthDoc[]>();
  for (const doc of docs) {
    if (doc.part === undefined) continue;
    const monthId = monthIdOfPart(doc._id);
    const list = parts.get(monthId);
    if (list === undefined) parts.set(monthId, [doc]);
    else list.push(doc);
  }
  return docs
    .filter((doc) => doc.part === undefined)
    .map((doc) => (doc.split === true ? withUsersOf(doc, parts.get(doc._id) ?? []) : doc));
}

/**
 * The months (`YYYY-MM`) of the split documents among `docs` read between the writes of one page:
 * a page writes a split month's document and every part at the page's last position, one document
 * after another, so a reader can find some at the position before. Summed, such a month would
 * count some events without their users or the other way round.
 */
export function tornMonths(docs: readonly SeriesMonthDoc[]): string[] {
  const splitAt = new Map<string, number>();
  for (const doc of docs) if (doc.split === true) splitAt.set(doc._id, doc.lastPosition);
  const torn = new Set<string>();
  for (const doc of docs) {
    if (doc.part === undefined) continue;
    const position = splitAt.get(monthIdOfPart(doc._id));
    if (position !== undefined && position !== doc.lastPosition) torn.add(doc.month);
  }
  return [...torn].sort();
}

/**
 * Where the stored layout is broken (see seriesMonth): a part holding counts or another part's
 * users, a split month holding users, a part of a month that is not split.
 */
export function layoutProblems(all: readonly SeriesMonthDoc[]): string[] {
  const split = new Set(all.filter((doc) => doc.split === true).map((doc) => doc._id));
  const differences: string[] = [];
  for (const doc of all) {
    if (doc.part === undefined) {
      if (doc.split === true && userEntries(doc) > 0)
        differences.push(`metric series ${doc._id}: split into parts, yet holds users itself`);
      continue;
    }
    const monthId = monthIdOfPart(doc._id);
    if (!split.has(monthId) || doc._id !== partDocId(monthId, doc.part)) {
      differences.push(
        `metric series ${doc._id}: a part of a month that is not split (an interrupted write)`,
      );
      continue;
    }
    for (const t of doc.types) {
      if (t.counts.length() > 0)
        differences.push(`metric series ${doc._id}: a part holding counts of ${t.eventType}`);
      const users = wordsOf(t.users);
      for (let i = 0; i + USER_WORDS <= users.length; i += USER_WORDS) {
        if (partOf(users[i + 1] ?? 0) === doc.part) continue;
        differences.push(`metric series ${doc._id}: holds users of ${t.eventType} of another part`);
        break;
      }
    }
  }
  return differences;
}

/** A split month's document with its parts' users (disjoint, so merging is sorting). */
function withUsersOf(month: SeriesMonthDoc, parts: readonly SeriesMonthDoc[]): SeriesMonthDoc {
  const types = new Map<string, { counts: Binary; users: Uint32Array[] }>();
  const typeOf = (eventType: string) => {
    let type = types.get(eventType);
    if (type === undefined) types.set(eventType, (type = { counts: new Binary(), users: [] }));
    return type;
  };
  for (const t of month.types) typeOf(t.eventType).counts = t.counts;
  for (const part of parts) for (const t of part.types) typeOf(t.eventType).users.push(wordsOf(t.users));
  const { split: _split, ...keys } = month;
  return {
    ...keys,
    types: [...types]
      .sort(([a], [b]) => byCodeUnits(a, b))
      .map(([eventType, { counts, users }]) => ({
        eventType,
        counts,
        users: binaryOf(applyUserChanges(new Uint32Array(0), joined(users))),
      })),
  };
}

/** Lists of words as one array. */
export function joined(lists: readonly ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(lists.reduce((sum, list) => sum + list.length, 0));
  let at = 0;
  for (const list of lists) {
    out.set(list, at);
    at += list.length;
  }
  return out;
}

/** The key fields of a (month, shard) document. */
export function monthDocKeys(
  month: string,
  shard: number,
): Pick<SeriesMonthDoc, '_id' | 'month' | 'year' | 'yearShard'> {
  const year = month.slice(0, -3);
  return {
    _id: monthDocId(month, shard),
    month,
    year,
    yearShard: `${year}/${String(shard).padStart(2, '0')}`,
  };
}

/** A UTC month: its `YYYY-MM` and its first UTC quarter-hour since the epoch. */
export interface Month {
  month: string;
  firstQuarter: number;
  /** The first quarter-hour of the month after. */
  endQuarter: number;
}

const months = new Map<number, Month>();

/** The UTC month holding a UTC quarter-hour (cached: a rebuild asks for every cell of every record). */
export function monthOfQuarter(quarter: number): Month {
  const day = Math.floor(quarter / 96);
  let month = months.get(day);
  if (month === undefined) {
    const d = new Date(day * 86_400_000);
    const year = d.getUTCFullYear();
    month = {
      month: `${String(year).padStart(4, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`,
      firstQuarter: utcDayStart(year, d.getUTCMonth(), 1) / QUARTER_MS,
      endQuarter: utcDayStart(year, d.getUTCMonth() + 1, 1) / QUARTER_MS,
    };
    if (months.size > 100_000) months.clear();
    months.set(day, month);
  }
  return month;
}

/** The UTC months from the one holding `fromMs` to the one holding `toMs - 1`. */
export function monthsBetween(fromMs: number, toMs: number): Month[] {
  const out: Month[] = [];
  const d = new Date(fromMs);
  for (let y = d.getUTCFullYear(), m = d.getUTCMonth(); utcDayStart(y, m, 1) < toMs; m++) {
    out.push(monthOfQuarter(utcDayStart(y, m, 1) / QUARTER_MS));
  }
  return out;
}

/** The uint32 words of a stored binary (copied: BSON binaries need not be aligned). */
/** Typed arrays use the platform's byte order: on a little-endian one, words are copied whole. */
const LITTLE_ENDIAN = endianness() === 'LE';

export function wordsOf(binary: Binary | undefined): Uint32Array {
  const bytes = bytesOfBinary(binary);
  const words = new Uint32Array(Math.floor(bytes.length / 4));
  if (LITTLE_ENDIAN) new Uint8Array(words.buffer).set(bytes.subarray(0, words.length * 4));
  else for (let i = 0; i < words.length; i++) words[i] = bytes.readUInt32LE(i * 4);
  return words;
}

export function binaryOf(words: Uint32Array): Binary {
  if (LITTLE_ENDIAN) return new Binary(Buffer.from(words.buffer, words.byteOffset, words.byteLength));
  const bytes = Buffer.alloc(words.length * 4);
  for (let i = 0; i < words.length; i++) bytes.writeUInt32LE(words[i] ?? 0, i * 4);
  return new Binary(bytes);
}

/** Stored counts with (quarter, count) pairs added (a count may be negative), in quarter order; zeros dropped. */
export function addCounts(stored: Uint32Array, added: ArrayLike<number>): Uint32Array {
  const sums = new Map<number, number>();
  for (let i = 0; i + 1 < stored.length; i += 2) sums.set(stored[i] ?? 0, stored[i + 1] ?? 0);
  for (let i = 0; i + 1 < added.length; i += 2) {
    const quarter = added[i] ?? 0;
    sums.set(quarter, (sums.get(quarter) ?? 0) + (added[i + 1] ?? 0));
  }
  const quarters = [...sums.keys()].filter((q) => (sums.get(q) ?? 0) > 0).sort((a, b) => a - b);
  const out = new Uint32Array(quarters.length * 2);
  quarters.forEach((quarter, i) => {
    out[2 * i] = quarter;
    out[2 * i + 1] = sums.get(quarter) ?? 0;
  });
  return out;
}

function compareKeys(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  return (a[i] ?? 0) - (b[j] ?? 0) || (a[i + 1] ?? 0) - (b[j + 1] ?? 0) || (a[i + 2] ?? 0) - (b[j + 2] ?? 0);
}

/** Quarter-hours in the longest month: the first word of a user quad is below it. */
const MONTH_QUARTERS = 31 * 96;

/** Quarters holding more users than this sort them by comparisons instead of by insertion. */
const INSERTION_SORT_MAX = 16;

/**
 * The offsets (4k) of the quads of `changes` in (quarter, high, low) order: a counting sort by
 * quarter-hour, then each quarter-hour's users (a few per record, in a busy month) by fingerprint.
 * A rebuild hands one document all of its users at once; sorting them by comparisons alone was
 * most of its time (docs/performance.md).
 */
function keyOrder(changes: ArrayLike<number>): Uint32Array {
  const n = Math.floor(changes.length / 4);
  // Buckets for the quarter-hours from the first to the last present (a page's few changes span few).
  let first = MONTH_QUARTERS;
  let last = -1;
  for (let k = 0; k < n; k++) {
    const quarter = changes[4 * k] ?? 0;
    if (!(quarter >= 0 && quarter < MONTH_QUARTERS)) {
      throw new Error('metric series: a quarter-hour outside its month');
    }
    first = Math.min(first, quarter);
    last = Math.max(last, quarter);
  }
  const buckets = Math.max(0, last - first + 1);
  const ends = new Uint32Array(buckets + 1);
  for (let k = 0; k < n; k++) {
    const bucket = (changes[4 * k] ?? 0) - first + 1;
    ends[bucket] = (ends[bucket] ?? 0) + 1;
  }
  for (let b = 1; b <= buckets; b++) ends[b] = (ends[b] ?? 0) + (ends[b - 1] ?? 0);
  // Each quarter-hour's slice is filled from its start; afterwards ends[b] is where it ends.
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) {
    const bucket = (changes[4 * k] ?? 0) - first;
    const at = ends[bucket] ?? 0;
    order[at] = 4 * k;
    ends[bucket] = at + 1;
  }
  const byUser = (i: number, j: number): number =>
    (changes[i + 1] ?? 0) - (changes[j + 1] ?? 0) || (changes[i + 2] ?? 0) - (changes[j + 2] ?? 0);
  let begin = 0;
  for (let b = 0; b < buckets; b++) {
    const end = ends[b] ?? 0;
    if (end - begin > INSERTION_SORT_MAX) order.subarray(begin, end).sort(byUser);
    else {
      for (let i = begin + 1; i < end; i++) {
        const at = order[i] ?? 0;
        let j = i - 1;
        for (; j >= begin && byUser(order[j] ?? 0, at) > 0; j--) order[j + 1] = order[j] ?? 0;
        order[j + 1] = at;
      }
    }
    begin = end;
  }
  return order;
}

/**
 * Stored users with (quarter, high, low, change) quads applied: each key's holder count moved by
 * the net of its changes (a record may withdraw and add the same key: only the net must be
 * possible), keys no chunk holds any more dropped, sorted, each once. Linear in the stored quads,
 * so a page adding a few users to a busy month neither decodes it into sets nor sorts it.
 */
export function applyUserChanges(stored: Uint32Array, changes: ArrayLike<number>): Uint32Array {
  const order = keyOrder(changes);
  const end = stored.length - (stored.length % 4);
  const out = new Uint32Array(end + 4 * order.length);
  let at = 0;
  let read = 0;
  const put = (from: ArrayLike<number>, i: number, holders: number): void => {
    if (holders < 0) throw new Error('metric series: a user was withdrawn more often than counted');
    if (holders === 0) return;
    out[at] = from[i] ?? 0;
    out[at + 1] = from[i + 1] ?? 0;
    out[at + 2] = from[i + 2] ?? 0;
    out[at + 3] = holders;
    at += 4;
  };
  for (let k = 0; k < order.length;) {
    // One key: the net of its changes.
    const i = order[k] ?? 0;
    let delta = 0;
    for (; k < order.length && compareKeys(changes, order[k] ?? 0, changes, i) === 0; k++) {
      delta += (changes[(order[k] ?? 0) + 3] ?? 0) | 0;
    }
    while (read < end && compareKeys(stored, read, changes, i) < 0) {
      put(stored, read, stored[read + 3] ?? 0);
      read += 4;
    }
    if (read < end && compareKeys(stored, read, changes, i) === 0) {
      put(stored, read, (stored[read + 3] ?? 0) + delta);
      read += 4;
    } else put(changes, i, delta);
  }
  for (; read < end; read += 4) put(stored, read, stored[read + 3] ?? 0);
  return out.subarray(0, at);
}
