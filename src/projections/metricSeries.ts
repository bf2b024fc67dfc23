import type { Collection, Db } from 'mongodb';
import { countCellsOf, userCellsOf, userHalves, type DetailCells } from '../events/chunkDetail';
import type { CountedRecord } from '../events/corrections';
import { byCodeUnits } from '../events/codeUnitOrder';
import {
  partsAfter,
  planSplitPage,
  readByIds,
  recallFrom,
  type Projection,
  type Stored,
  type Write,
} from './projection';
import type { ReadModelMemory } from './readModelMemory';
import {
  addCounts,
  applyUserChanges,
  binaryOf,
  monthDocId,
  monthDocKeys,
  isSeriesMonthDoc,
  joined,
  monthOfQuarter,
  partDocId,
  partOf,
  seriesDocBytes,
  SPLIT_ABOVE_USERS,
  userEntries,
  USER_PARTS,
  USER_WORDS,
  wholeMonths,
  shardOf,
  wordsOf,
  type Month,
  type SeriesMonthDoc,
} from './seriesMonth';

/**
 * The metric series: one document per (UTC month, type shard) (see seriesMonth) with, per event
 * type, its counts per UTC quarter-hour and its distinct users per quarter-hour, from the details
 * the records add and withdraw (see corrections). A query in any zone and interval sums the
 * quarter-hours of its buckets (every real zone's offset is a whole number of quarter-hours) and
 * unites their users, so counts and unique users are exact.
 *
 * A page costs a read of the documents it touches (see readTouched) and one write per document it
 * changes, each conditional on the `lastPosition` read, so replaying a page adds nothing. Counts
 * are summed and users merged into the document on every write, so its content is a function of
 * the records applied, never of the paging: a rebuild writes the same documents as the live model.
 */

/**
 * One record's changes to one document: per type, flat (quarter, count) pairs and (quarter, high,
 * low, holders) quads, negative where the record withdraws (see corrections).
 */
interface Part {
  position: number;
  types: Map<string, TypeChanges>;
}

interface TypeChanges {
  counts: number[];
  users: number[];
}

interface Touched {
  month: string;
  shard: number;
  parts: Part[];
}

/** What each record of a page changes in each document, in log order. */
function partsByDoc(page: readonly CountedRecord[]): Map<string, Touched> {
  const byDoc = new Map<string, Touched>();
  for (const { record, effects } of page) {
    for (const { sign, detail } of effects) {
      const shards = detail.eventTypes.map(shardOf);
      // Cells come by type, then quarter-hour: the (type, month) entry changes only now and then.
      const eachCell = (cells: DetailCells, add: (into: TypeChanges, i: number, inMonth: number) => void) => {
        let type = -1;
        let month: Month | undefined;
        let into: TypeChanges | undefined;
        for (let i = 0; i < cells.length; i++) {
          const quarter = cells.quarters[i] ?? 0;
          const t = cells.types[i] ?? 0;
          if (
            into === undefined ||
            month === undefined ||
            t !== type ||
            quarter >= month.endQuarter ||
            quarter < month.firstQuarter
          ) {
            type = t;
            month = monthOfQuarter(quarter);
            into = changesOf(byDoc, record.position, month, shards[t] ?? 0, detail.eventTypes[t] ?? '');
          }
          add(into, i, quarter - month.firstQuarter);
        }
      };
      const counts = countCellsOf(detail);
      eachCell(counts, (into, i, inMonth) => {
        into.counts.push(inMonth, sign * (counts.values[i] ?? 0));
      });
      const users = userCellsOf(detail);
      const halves = userHalves(detail);
      eachCell(users, (into, i, inMonth) => {
        const user = 2 * (users.values[i] ?? 0);
        into.users.push(inMonth, halves[user] ?? 0, halves[user + 1] ?? 0, sign);
      });
    }
  }
  return byDoc;
}

/** The changes a record makes to one type of one (month, shard) document, created on first use. */
function changesOf(
  byDoc: Map<string, Touched>,
  position: number,
  { month }: Month,
  shard: number,
  eventType: string,
): TypeChanges {
  const id = monthDocId(month, shard);
  let touched = byDoc.get(id);
  if (touched === undefined) byDoc.set(id, (touched = { month, shard, parts: [] }));
  let part = touched.parts.at(-1);
  if (part?.position !== position) {
    part = { position, types: new Map() };
    touched.parts.push(part);
  }
  let type = part.types.get(eventType);
  if (type === undefined) part.types.set(eventType, (type = { counts: [], users: [] }));
  return type;
}

type DocKeys = Omit<SeriesMonthDoc, 'types' | 'lastPosition'>;

/** The document after adding the parts after its stored `lastPosition`; null when none. */
function nextDoc(
  stored: SeriesMonthDoc | null,
  parts: readonly Part[],
  keys: DocKeys,
): SeriesMonthDoc | null {
  const pending = partsAfter(stored, parts);
  const last = pending.at(-1);
  if (last === undefined) return null;
  const added = new Map<string, { counts: number[][]; users: number[][] }>();
  for (const part of pending) {
    for (const [eventType, { counts, users }] of part.types) {
      const into = added.get(eventType);
      if (into === undefined) added.set(eventType, { counts: [counts], users: [users] });
      else {
        into.counts.push(counts);
        into.users.push(users);
      }
    }
  }
  const types = new Map((stored?.types ?? []).map((t) => [t.eventType, t]));
  for (const [eventType, { counts, users }] of added) {
    const old = types.get(eventType);
    const nextCounts = addCounts(wordsOf(old?.counts), joined(counts));
    const nextUsers = applyUserChanges(wordsOf(old?.users), joined(users));
    // A type whose events were all taken back out is gone from the month, as if never counted.
    if (nextCounts.length === 0 && nextUsers.length === 0) types.delete(eventType);
    else types.set(eventType, { eventType, counts: binaryOf(nextCounts), users: binaryOf(nextUsers) });
  }
  return {
    ...keys,
    types: [...types.values()].sort((a, b) => byCodeUnits(a.eventType, b.eventType)),
    lastPosition: last.position,
  };
}

/** Each record's changes with only what `keep` keeps of each type (empty types left out). */
function changesKept(parts: readonly Part[], keep: (changes: TypeChanges) => TypeChanges): Part[] {
  return parts.map(({ position, types }) => {
    const kept = new Map<string, TypeChanges>();
    for (const [eventType, changes] of types) {
      const { counts, users } = keep(changes);
      if (counts.length > 0 || users.length > 0) kept.set(eventType, { counts, users });
    }
    return { position, types: kept };
  });
}

/** The quads of `users` (flat words) whose user is in `part`. */
function usersIn(users: ArrayLike<number>, part: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + USER_WORDS <= users.length; i += USER_WORDS) {
    if (partOf(users[i + 1] ?? 0) !== part) continue;
    for (let w = 0; w < USER_WORDS; w++) out.push(users[i + w] ?? 0);
  }
  return out;
}

const NO_WORDS = binaryOf(new Uint32Array(0));

/** A whole month's document as a split one (its counts) and its USER_PARTS parts (their users). */
function splitDoc(whole: SeriesMonthDoc): { doc: SeriesMonthDoc; parts: SeriesMonthDoc[] } {
  const month: SeriesMonthDoc = {
    ...whole,
    split: true,
    types: whole.types.filter((t) => t.counts.length() > 0).map((t) => ({ ...t, users: NO_WORDS })),
  };
  const parts = Array.from({ length: USER_PARTS }, (_, part): SeriesMonthDoc => {
    const types = whole.types.flatMap((t) => {
      const users = usersIn(wordsOf(t.users), part);
      return users.length === 0
        ? []
        : [{ eventType: t.eventType, counts: NO_WORDS, users: binaryOf(Uint32Array.from(users)) }];
    });
    return { ...partKeys(whole, part), types, lastPosition: whole.lastPosition };
  });
  return { doc: month, parts };
}

function partKeys(month: DocKeys, part: number): DocKeys {
  const { split: _split, ...keys } = month;
  return { ...keys, _id: partDocId(month._id, part), part };
}

/** Up to this many documents of a year, a page reads each by `_id` instead of the whole year. */
const POINT_READS_MAX = 16;

/**
 * The stored month documents a page touches: those the memory knows (see ReadModelMemory), the
 * others from the database. Per year, the few it touches by `_id`, side by side (a page of a few
 * posts, an erasure: each costs its own size, not the year's); more with one equality query on
 * `year` (a page spread over a year reads it in one; a FerretDB without index twins scans the table
 * once per query), which brings the parts of split months too.
 */
async function readTouched(
  collection: Collection<SeriesMonthDoc>,
  byDoc: ReadonlyMap<string, Touched>,
  memory: ReadModelMemory | undefined,
): Promise<Map<string, Stored<SeriesMonthDoc>>> {
  const { known: stored, unknown } = recallFrom(memory, byDoc.keys(), isSeriesMonthDoc);
  const idsByYear = new Map<string, string[]>();
  for (const id of unknown) {
    const year = byDoc.get(id)?.month.slice(0, -3) ?? '';
    const ids = idsByYear.get(year);
    if (ids === undefined) idsByYear.set(year, [id]);
    else ids.push(id);
  }
  const found = await Promise.all(
    [...idsByYear].map(async ([year, ids]) => {
      if (ids.length > POINT_READS_MAX) return collection.find({ year }).toArray();
      const read = await readByIds(collection, ids, undefined, isSeriesMonthDoc);
      return [...read.values()].flatMap(({ doc }) => (doc === null ? [] : [doc]));
    }),
  );
  for (const doc of found.flat()) if (!stored.has(doc._id)) stored.set(doc._id, { doc, fromMemory: false });
  return stored;
}

const partIdsOf = (monthId: string): string[] =>
  Array.from({ length: USER_PARTS }, (_, part) => partDocId(monthId, part));

/** Series months split by user (see seriesMonth); `bound` is the projection's. */
const SERIES_LAYOUT = {
  isDoc: isSeriesMonthDoc,
  partIdsOf,
  size: userEntries,
  split: splitDoc,
  join(month: SeriesMonthDoc, parts: readonly SeriesMonthDoc[]): SeriesMonthDoc {
    return wholeMonths([month, ...parts])[0] ?? month;
  },
  bytes: seriesDocBytes,
};

/**
 * The metric series projection. A (month, shard) is one document while its users fit
 * (`splitAboveUsers` entries, see seriesMonth); beyond that its users are in USER_PARTS part
 * documents and the month's document keeps the counts. Which of the two is a function of the
 * content, so a rebuild writes the same documents. Every page that touches a split month writes it
 * and all its parts (the same `lastPosition` everywhere, whatever the paging). Becoming split, the
 * parts are written before the month's document says so; becoming whole again, the month's
 * document takes the users back before the parts are deleted: a reader that finds the month whole
 * ignores any parts (see wholeMonths).
 */
export function createMetricSeriesProjection(options: { splitAboveUsers?: number } = {}): Projection {
  const splitAbove = options.splitAboveUsers ?? SPLIT_ABOVE_USERS;
  return {
    name: 'metricSeries',

    async ensureIndexes(db: Db, collectionName: string) {
      // Documents are written by `_id` and read by `year` (pages, a query for every type) or
      // `yearShard` (a query for some types): without these, each read would go through every year's.
      const collection = db.collection<SeriesMonthDoc>(collectionName);
      await collection.createIndex({ year: 1 }, { name: 'year' }, undefined);
      await collection.createIndex({ yearShard: 1 }, { name: 'yearShard' }, undefined);
    },

    async planPage(db, collectionName, page, _report, memory): Promise<Write[]> {
      const collection = db.collection<SeriesMonthDoc>(collectionName);
      const byDoc = partsByDoc(page);
      const stored = await readTouched(collection, byDoc, memory);
      const storedDoc = (id: string): SeriesMonthDoc | null => stored.get(id)?.doc ?? null;
      const ids = [...byDoc.keys()].sort(byCodeUnits);
      const layout = { ...SERIES_LAYOUT, bound: splitAbove };
      return planSplitPage(collection, layout, ids, stored, memory, {
        whole(id) {
          const touched = byDoc.get(id);
          if (touched === undefined) return null;
          return nextDoc(storedDoc(id), touched.parts, monthDocKeys(touched.month, touched.shard));
        },
        split(id) {
          const touched = byDoc.get(id);
          if (touched === undefined) return { doc: null, parts: [] };
          const monthKeys = monthDocKeys(touched.month, touched.shard);
          // Every record is kept (empty or not), so all of a split month moves to one position.
          const doc = nextDoc(
            storedDoc(id),
            changesKept(touched.parts, ({ counts }) => ({ counts, users: [] })),
            { ...monthKeys, split: true },
          );
          const parts = partIdsOf(id).map((partId, part) =>
            nextDoc(
              storedDoc(partId),
              changesKept(touched.parts, ({ users }) => ({ counts: [], users: usersIn(users, part) })),
              partKeys(monthKeys, part),
            ),
          );
          return { doc, parts };
        },
      });
    },
  };
}

export const metricSeriesProjection = createMetricSeriesProjection();
