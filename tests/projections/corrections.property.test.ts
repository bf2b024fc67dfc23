import fc from 'fast-check';
import { MongoClient, type Db } from 'mongodb';
import { batchKeys, batchStream, correctionsStream } from '../../src/events/batchHistory';
import { detailOf } from '../../src/events/chunkDetail';
import { daySpanOf } from '../../src/events/dailyCounts';
import { createEventLog, ensureEventLogIndexes, type EventLog } from '../../src/events/eventLog';
import { createUserFingerprint, fingerprintHex } from '../../src/events/userFingerprint';
import { countPage, LogMemory } from '../../src/events/corrections';
import {
  createDailyMetricsProjection,
  dailyMetricsProjection,
  dayLayoutProblems,
  flattenDailyMetrics,
  wholeDays,
  type DailyMetricsDoc,
} from '../../src/projections/dailyMetrics';
import { createMetricSeriesProjection, metricSeriesProjection } from '../../src/projections/metricSeries';
import { layoutProblems, wholeMonths, type SeriesMonthDoc } from '../../src/projections/seriesMonth';
import { applyPage, projectInto, targetFor } from '../../src/projections/projector';
import { collectionName } from '../../src/projections/readModels';
import { createGetMetricSeries } from '../../src/queries/getMetricSeries';
import type { SeriesParams } from '../../src/queries/seriesParams';
import { uniqueName } from '../support/testConfig';

/**
 * Retractions and erasures against a recount of what remains. A model of the command side plays a
 * random interleaving: chunks read for processing (a snapshot at the chunk's revision) and their
 * EventsProcessed appended later, possibly after an erasure rewrote the chunk; batches retracted;
 * users erased from every chunk that holds them. The read models, projected in random pages with
 * pages replayed, must equal a recount of the events still in processed chunks of live batches: in
 * any zone, unique users included, and document for document what one pass over the log gives.
 */

type Row = { userId: string; eventType: string; millis: number };
const userFingerprint = createUserFingerprint(Buffer.from('a fixed user hash key for this file only'));
const USERS = ['u1', 'u2', 'u3', 'ü4'];
const ZONES = ['UTC', 'Asia/Kathmandu', 'America/New_York', 'Australia/Lord_Howe'];
const BASE = Date.UTC(2024, 2, 9, 20);

const rowArb: fc.Arbitrary<Row> = fc.record({
  userId: fc.constantFrom(...USERS),
  eventType: fc.constantFrom('click', 'view', 'a.b'),
  millis: fc.integer({ min: 0, max: 4 * 86_400_000 }).map((ms) => BASE + ms),
});

type Op =
  | { kind: 'read'; chunk: number }
  | { kind: 'append'; snapshot: number }
  | { kind: 'retract'; batch: number }
  | { kind: 'erase'; user: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.nat().map((chunk): Op => ({ kind: 'read', chunk })) },
  { weight: 4, arbitrary: fc.nat().map((snapshot): Op => ({ kind: 'append', snapshot })) },
  { weight: 1, arbitrary: fc.nat().map((batch): Op => ({ kind: 'retract', batch })) },
  { weight: 2, arbitrary: fc.nat().map((user): Op => ({ kind: 'erase', user })) },
);

interface Chunk {
  batchId: string;
  chunk: number;
  rows: Row[];
  revision: number;
  processed: boolean;
}

const localDate = (tz: string, millis: number): string =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(millis);

const detailOfRows = (rows: readonly Row[]) =>
  detailOf(rows.map((r) => [r.eventType, r.millis, userFingerprint(r.userId)] as const));

/** Plays the operations against a fresh log; returns the rows that still count. */
async function play(
  log: EventLog,
  rows: Row[],
  batches: number,
  perChunk: number,
  ops: Op[],
): Promise<Row[]> {
  const chunks: Chunk[] = [];
  rows.forEach((row, i) => {
    const batchId = `b${i % batches}`;
    const own = chunks.filter((c) => c.batchId === batchId);
    const last = own.at(-1);
    if (last !== undefined && last.rows.length < perChunk) last.rows.push(row);
    else chunks.push({ batchId, chunk: own.length, rows: [row], revision: 0, processed: false });
  });
  // Uploaded first, as every batch is: a reader following the log remembers them from here on.
  for (let b = 0; b < batches; b++) {
    const batchId = `b${b}`;
    const newEvents = chunks.filter((c) => c.batchId === batchId).reduce((n, c) => n + c.rows.length, 0);
    await log.append({
      type: 'BatchUploaded',
      key: batchKeys.uploaded(batchId),
      streamId: batchStream(batchId),
      data: {
        batchId,
        fileName: `${batchId}.csv`,
        totalRows: newEvents,
        newEvents,
        duplicates: 0,
        eventsPerChunk: perChunk,
      },
      correlationId: 'test',
    });
  }
  const retracted = new Set<string>();
  const snapshots: { chunk: Chunk; rows: Row[]; revision: number }[] = [];
  let erasures = 0;
  for (const op of ops) {
    if (op.kind === 'read') {
      const chunk = chunks[op.chunk % chunks.length];
      if (chunk !== undefined) snapshots.push({ chunk, rows: [...chunk.rows], revision: chunk.revision });
    } else if (op.kind === 'append') {
      const snapshot = snapshots[op.snapshot % Math.max(1, snapshots.length)];
      if (snapshot === undefined) continue;
      const { chunk } = snapshot;
      const events = snapshot.rows.map((r) => [r.eventType, r.millis, userFingerprint(r.userId)] as const);
      await log.append({
        type: 'EventsProcessed',
        key: batchKeys.processed(chunk.batchId, chunk.chunk),
        streamId: batchStream(chunk.batchId),
        data: {
          batchId: chunk.batchId,
          chunk: chunk.chunk,
          events: events.length,
          ...daySpanOf(events),
          detail: detailOf(events),
          revision: snapshot.revision,
        },
        correlationId: 'test',
      });
      chunk.processed = true;
    } else if (op.kind === 'retract') {
      const batchId = `b${op.batch % batches}`;
      retracted.add(batchId);
      await log.append({
        type: 'BatchRetracted',
        key: batchKeys.retracted(batchId),
        streamId: correctionsStream(batchId),
        data: { batchId, reason: 'test' },
        correlationId: 'test',
      });
    } else {
      const userId = USERS[op.user % USERS.length] ?? 'u1';
      const user = fingerprintHex(userFingerprint(userId));
      const erasureId = `e${erasures++}`;
      for (let b = 0; b < batches; b++) {
        const batchId = `b${b}`;
        const touched = [];
        for (const chunk of chunks.filter((c) => c.batchId === batchId)) {
          const theirs = chunk.rows.filter((r) => r.userId === userId);
          if (theirs.length === 0) continue;
          chunk.rows = chunk.rows.filter((r) => r.userId !== userId);
          chunk.revision += 1;
          touched.push({ chunk: chunk.chunk, revision: chunk.revision, withdrawn: detailOfRows(theirs) });
        }
        if (touched.length === 0) continue;
        await log.append({
          type: 'UserErased',
          key: batchKeys.erased(erasureId, batchId),
          streamId: correctionsStream(batchId),
          data: { erasureId, user, batchId, chunks: touched },
          correlationId: 'test',
        });
      }
    }
  }
  return chunks.filter((c) => c.processed && !retracted.has(c.batchId)).flatMap((c) => c.rows);
}

/** Per (local date, eventType): count and distinct userIds, over the whole range, in `tz`. */
function recount(rows: Row[], tz: string) {
  const byDay = new Map<string, { count: number; users: Set<string> }>();
  for (const row of rows) {
    const key = JSON.stringify([localDate(tz, row.millis), row.eventType]);
    const entry = byDay.get(key) ?? { count: 0, users: new Set<string>() };
    byDay.set(key, entry);
    entry.count += 1;
    entry.users.add(row.userId);
  }
  return [...byDay].map(([key, e]) => `${key}:${e.count}:${e.users.size}`).sort();
}

describe('retractions and erasures (property, real FerretDB)', () => {
  let client: MongoClient;
  const dbs: Db[] = [];

  beforeAll(async () => {
    client = await new MongoClient(process.env.TEST_MONGODB_URI ?? '').connect();
  });
  afterAll(async () => {
    for (const db of dbs) await db.dropDatabase();
    await client.close();
  });

  const splitting = [
    createMetricSeriesProjection({ splitAboveUsers: 0 }),
    createDailyMetricsProjection({ splitAboveBytes: 0 }),
  ];

  it('read models equal a recount of what remains, in any zone, however paged and replayed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { minLength: 1, maxLength: 50 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.nat(),
        async (rows, batches, perChunk, ops, pageSize, replayCut) => {
          const db = client.db(uniqueName('corrections'));
          dbs.push(db);
          await ensureEventLogIndexes(db);
          const log = createEventLog(db);
          const remaining = await play(log, rows, batches, perChunk, ops);

          // Live: small pages, each replayed in part (a crash after some writes) and whole. Versions 3
          // and 4 hold the series and the days with every month that has users and every day that
          // has counts split (see seriesMonth, dailyMetrics), made whole again when a correction
          // takes the last out.
          const live = [metricSeriesProjection, dailyMetricsProjection].map((p) => targetFor(db, p, 1));
          live.push(...splitting.map((p) => targetFor(db, p, 3)));
          const memory = new LogMemory();
          for (let from = 1; ; from += pageSize) {
            const page = await log.readFrom(from, pageSize);
            if (page.length === 0) break;
            // Counted from what the reader remembers of earlier pages, and again from the log alone.
            const counted = await countPage(log, page, memory);
            const [recorded] = await Promise.all([countPage(log, page)]);
            expect(counted).toEqual(recorded);
            for (const target of live) {
              await applyPage(target, counted.slice(0, replayCut % (counted.length + 1)));
              await applyPage(target, counted);
              await applyPage(target, recorded);
            }
          }
          // Rebuilt: one pass, as rebuild-projections replays the log.
          for (const p of [metricSeriesProjection, dailyMetricsProjection])
            await projectInto(db, log, targetFor(db, p, 2), { fence: 1, memory: new LogMemory() });
          for (const p of splitting)
            await projectInto(db, log, targetFor(db, p, 4), { fence: 1, memory: new LogMemory() });

          const getSeries = createGetMetricSeries({ db });
          for (const tz of ZONES) {
            const params: SeriesParams = {
              tz,
              interval: 'day',
              from: '2024-03-08',
              to: '2024-03-15',
              eventTypes: [],
            };
            const answer = await getSeries(params);
            const got = answer.series
              .flatMap((b) =>
                b.metrics.map((m) => `${JSON.stringify([b.date, m.eventType])}:${m.count}:${m.uniqueUsers}`),
              )
              .sort();
            expect(got).toEqual(recount(remaining, tz));
          }
          const days = await db
            .collection<DailyMetricsDoc>(collectionName('dailyMetrics', 1))
            .find({})
            .toArray();
          const daily = [...flattenDailyMetrics(days)]
            .map((m) => `${m.date}:${m.eventType}:${m.count}`)
            .sort();
          const utc = recount(remaining, 'UTC').map((line) => {
            const [key, count] = [line.slice(0, line.indexOf(']') + 1), line.split(':').at(-2)];
            const [date, eventType] = JSON.parse(key) as [string, string];
            return `${date}:${eventType}:${count}`;
          });
          expect(daily).toEqual(utc.sort());

          for (const name of ['metricSeries', 'dailyMetrics'] as const) {
            const docsOf = (version: number) =>
              db.collection(collectionName(name, version)).find({}).sort({ _id: 1 }).toArray();
            expect(await docsOf(1)).toEqual(await docsOf(2));
          }
          const seriesOf = (version: number) =>
            db
              .collection<SeriesMonthDoc>(collectionName('metricSeries', version))
              .find({})
              .sort({ _id: 1 })
              .toArray();
          const split = await seriesOf(3);
          expect(layoutProblems(split)).toEqual([]);
          expect(split).toEqual(await seriesOf(4));
          // Split or not, the same months.
          expect(wholeMonths(split)).toEqual(await seriesOf(1));
          const daysOf = (version: number) =>
            db
              .collection<DailyMetricsDoc>(collectionName('dailyMetrics', version))
              .find({})
              .sort({ _id: 1 })
              .toArray();
          const splitDays = await daysOf(3);
          expect(dayLayoutProblems(splitDays)).toEqual([]);
          expect(splitDays).toEqual(await daysOf(4));
          expect(wholeDays(splitDays)).toEqual(await daysOf(1));
        },
      ),
      { numRuns: 60 },
    );
  }, 600_000);
});
