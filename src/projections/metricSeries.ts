import type { Collection, Db } from 'mongodb';
import { countCellsOf, userCellsOf, userHalves, type DetailCells } from '../events/chunkDetail';
import type { CountedRecord } from '../events/corrections';
import { byCodeUnits } from '../events/codeUnitOrder';
import {
  partsAfter,
  recallFrom,
  writesOf,
  type Planned,
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
  monthOfQuarter,
  seriesDocBytes,
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

/** Lists of signed words as one array. */
function joined(lists: readonly number[][]): Float64Array {
  const out = new Float64Array(lists.reduce((sum, list) => sum + list.length, 0));
  let at = 0;
  for (const list of lists) {
    out.set(list, at);
    at += list.length;
  }
  return out;
}

/** The document after adding the parts after its stored `lastPosition`; null when none. */
function nextDoc(stored: SeriesMonthDoc | null, touched: Touched): SeriesMonthDoc | null {
  const pending = partsAfter(stored, touched.parts);
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
    ...monthDocKeys(touched.month, touched.shard),
    types: [...types.values()].sort((a, b) => byCodeUnits(a.eventType, b.eventType)),
    lastPosition: last.position,
  };
}

/** Up to this many documents of a year, a page reads each by `_id` instead of the whole year. */
const POINT_READS_MAX = 16;

/**
 * The stored documents a page touches: those the memory knows (see ReadModelMemory), the others
 * from the database. Per year, the few it touches by `_id`, side by side (a page of a few posts,
 * an erasure: each costs its own size, not the year's); more with one equality query on `year` (a
 * page spread over a year reads it in one; a FerretDB without index twins scans the table once per
 * query).
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
      const docs = await Promise.all(ids.map((_id) => collection.findOne({ _id })));
      return docs.filter((doc): doc is SeriesMonthDoc => doc !== null);
    }),
  );
  for (const doc of found.flat()) if (!stored.has(doc._id)) stored.set(doc._id, { doc, fromMemory: false });
  return stored;
}

export const metricSeriesProjection: Projection = {
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
    const planned: Planned<SeriesMonthDoc>[] = [];
    for (const [id, touched] of [...byDoc].sort(([a], [b]) => byCodeUnits(a, b))) {
      const before = stored.get(id) ?? { doc: null, fromMemory: false };
      const next = nextDoc(before.doc, touched);
      if (next !== null) planned.push({ stored: before, next, bytes: seriesDocBytes(next) });
    }
    return writesOf(collection, planned, memory);
  },
};
