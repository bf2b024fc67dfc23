import fc from 'fast-check';
import { MongoClient, type Db } from 'mongodb';
import { createEventLog, type EventLog } from '../../src/events/eventLog';
import { createUserFingerprint } from '../../src/events/userFingerprint';
import { createMetricSeriesProjection, metricSeriesProjection } from '../../src/projections/metricSeries';
import { applyPage, projectInto, targetFor } from '../../src/projections/projector';
import { countPage } from '../../src/events/corrections';
import { collectionName, switchVersion } from '../../src/projections/readModels';
import {
  binaryOf,
  partOf,
  shardOf,
  wordsOf,
  USER_PARTS,
  USER_WORDS,
  wholeMonths,
  type SeriesMonthDoc,
} from '../../src/projections/seriesMonth';
import { ReadModelMemory } from '../../src/projections/readModelMemory';
import { createGetMetricSeries, type MetricSeries } from '../../src/queries/getMetricSeries';
import type { SeriesParams } from '../../src/queries/seriesParams';
import type { Interval } from '../../src/queries/zoneBuckets';
import { appendProcessedChunk, type CountedEvent } from '../support/processedChunk';
import { uniqueName } from '../support/testConfig';
import { ServiceBusyError } from '../../src/errors';

/** Any fixed key: these fingerprints only need to be consistent among themselves. */
const userFingerprint = createUserFingerprint(Buffer.from('a fixed user hash key for this file only'));

/**
 * The metric series against an independent recount: events are bucketed by the local date Intl
 * gives for each one (not by the boundaries the query computes), users counted as distinct userId
 * strings (not fingerprints). Timestamps cluster around DST changes and quarter-hour offsets.
 */

const ZONES = [
  'UTC',
  'Asia/Kathmandu',
  'Asia/Kolkata',
  'Europe/Berlin',
  'America/New_York',
  'Pacific/Chatham',
  'Australia/Lord_Howe',
];
/** Local midnights of 2024 around DST changes and in zones with 30- and 45-minute offsets. */
const ANCHORS = [
  Date.UTC(2024, 0, 14, 18, 15), // Kathmandu (+05:45) midnight of Jan 15
  Date.UTC(2024, 0, 14, 18, 30), // Kolkata (+05:30)
  Date.UTC(2024, 3, 6, 10, 15), // Chatham (+13:45 until 03:45 that night) midnight of Apr 7
  Date.UTC(2024, 3, 6, 13), // Lord Howe (+11, then +10:30)
  Date.UTC(2024, 2, 30, 23), // Berlin midnight of Mar 31 (23 h)
  Date.UTC(2024, 9, 26, 22), // Berlin midnight of Oct 27 (25 h)
  Date.UTC(2024, 2, 10, 5), // New York midnight of Mar 10 (23 h)
  Date.UTC(2024, 10, 3, 4), // New York midnight of Nov 3 (25 h)
  Date.UTC(2024, 11, 31, 23, 59),
];
const DAY = 86_400_000;

type Row = { userId: string; eventType: string; millis: number };

const rowArb: fc.Arbitrary<Row> = fc.record({
  userId: fc.constantFrom('u1', 'u2', 'u3', 'u4', 'ü5'),
  eventType: fc.constantFrom('click', 'view', 'a.b', '$odd'),
  // Near a local midnight: a day away at most, within 30 minutes of it.
  millis: fc
    .tuple(fc.constantFrom(...ANCHORS), fc.integer({ min: -1, max: 1 }), fc.integer({ min: -30, max: 30 }))
    .map(([anchor, days, minutes]) => anchor + days * DAY + minutes * 60_000),
});

const localDate = (tz: string, millis: number): string =>
  new Intl.DateTimeFormat('en-CA', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(millis);

function label(interval: Interval, date: string): string {
  if (interval === 'day') return date;
  if (interval === 'month') return `${date.slice(0, 7)}-01`;
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}

/** The answer's buckets with metrics, recounted from the rows. */
function recount(rows: Row[], params: SeriesParams) {
  const buckets = new Map<string, Map<string, { count: number; users: Set<string> }>>();
  const totals = new Map<string, { count: number; users: Set<string> }>();
  const add = (map: Map<string, { count: number; users: Set<string> }>, row: Row) => {
    const entry = map.get(row.eventType) ?? { count: 0, users: new Set<string>() };
    map.set(row.eventType, entry);
    entry.count += 1;
    entry.users.add(row.userId);
  };
  for (const row of rows) {
    const date = localDate(params.tz, row.millis);
    if (date < params.from || date > params.to) continue;
    if (params.eventTypes.length > 0 && !params.eventTypes.includes(row.eventType)) continue;
    const key = label(params.interval, date);
    const bucket = buckets.get(key) ?? new Map<string, { count: number; users: Set<string> }>();
    buckets.set(key, bucket);
    add(bucket, row);
    add(totals, row);
  }
  const flat = (map: Map<string, { count: number; users: Set<string> }>) =>
    [...map]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([eventType, e]) => ({ eventType, count: e.count, uniqueUsers: e.users.size }));
  return {
    series: [...buckets]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([date, m]) => ({ date, metrics: flat(m) })),
    totals: flat(totals),
  };
}

describe('metric series (property, real FerretDB)', () => {
  let client: MongoClient;
  const dbs: Db[] = [];

  beforeAll(async () => {
    client = await new MongoClient(process.env.TEST_MONGODB_URI ?? '').connect();
  });
  afterAll(async () => {
    for (const db of dbs) await db.dropDatabase();
    await client.close();
  });

  /** Appends one EventsProcessed per chunk of `rows`, the first numbered `firstChunk`. */
  async function appendChunks(log: EventLog, rows: Row[], perChunk: number, firstChunk = 0): Promise<void> {
    for (let i = 0; i * perChunk < rows.length; i++) {
      const chunk = firstChunk + i;
      const events = rows
        .slice(i * perChunk, (i + 1) * perChunk)
        .map((r): CountedEvent => [r.eventType, r.millis, userFingerprint(r.userId)]);
      await appendProcessedChunk(log, chunk, events);
    }
  }

  /** A fresh database whose log holds one EventsProcessed per chunk of `rows`. */
  async function logOf(rows: Row[], perChunk: number): Promise<{ db: Db; log: EventLog }> {
    const db = client.db(uniqueName('series'));
    dbs.push(db);
    const log = createEventLog(db);
    await appendChunks(log, rows, perChunk);
    return { db, log };
  }

  const paramsArb = fc
    .record({
      tz: fc.constantFrom(...ZONES),
      interval: fc.constantFrom<Interval>('day', 'week', 'month'),
      anchor: fc.constantFrom(...ANCHORS),
      before: fc.integer({ min: 0, max: 5 }),
      days: fc.integer({ min: 1, max: 40 }),
      eventTypes: fc.subarray(['click', 'view', 'a.b', '$odd']),
    })
    .map(({ tz, interval, anchor, before, days, eventTypes }): SeriesParams => {
      const from = new Date(anchor - before * DAY).toISOString().slice(0, 10);
      const to = new Date(anchor - before * DAY + (days - 1) * DAY).toISOString().slice(0, 10);
      return { tz, interval, from, to, eventTypes: [...eventTypes].sort() };
    });

  const withMetrics = (answer: MetricSeries) => answer.series.filter((b) => b.metrics.length > 0);

  // The default projection, and one that splits months above three users (see seriesMonth).
  for (const [layout, projection] of [
    ['one document a month', metricSeriesProjection],
    ['months split above three users', createMetricSeriesProjection({ splitAboveUsers: 3 })],
  ] as const) {
    describe(layout, () => {
      it('equals a recount from the raw rows in any zone, interval and range; every bucket is present', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(rowArb, { minLength: 1, maxLength: 80 }),
            fc.integer({ min: 1, max: 25 }),
            fc.array(paramsArb, { minLength: 1, maxLength: 3 }),
            fc.array(fc.constantFrom<Interval>('day', 'week', 'month'), {
              minLength: ZONES.length,
              maxLength: ZONES.length,
            }),
            async (rows, perChunk, narrow, intervals) => {
              // Every zone over the whole year (every row), and a few narrower ranges.
              const questions = [
                ...ZONES.map((tz, i): SeriesParams => ({
                  tz,
                  interval: intervals[i] ?? 'day',
                  from: '2024-01-08',
                  to: '2025-01-05',
                  eventTypes: [],
                })),
                ...narrow,
              ];
              const { db, log } = await logOf(rows, perChunk);
              const target = targetFor(db, projection, 1);
              await projectInto(db, log, target, { fence: 1 });
              const getSeries = createGetMetricSeries({ db });
              for (const params of questions) {
                const answer = await getSeries(params);
                const want = recount(rows, params);
                expect({ series: withMetrics(answer), totals: answer.totals }).toEqual(want);
                expect(answer.series[0]?.date).toBe(label(params.interval, params.from));
                expect(answer.series.at(-1)?.date).toBe(label(params.interval, params.to));
                expect(new Set(answer.series.map((b) => b.date)).size).toBe(answer.series.length);
              }
            },
          ),
          { numRuns: 25 },
        );
      }, 300_000);

      it('writes the same documents however the log is paged, and answers the same', async () => {
        // Events of one UTC hour: in pages of one or two records, each document is written many times.
        const hour = Date.UTC(2024, 0, 15, 9);
        const dayRowArb = rowArb.map((row) => ({
          ...row,
          millis: hour + (Math.abs(row.millis) % 3_600_000),
        }));
        const question: SeriesParams = {
          tz: 'Asia/Kolkata',
          interval: 'day',
          from: '2024-01-14',
          to: '2024-01-16',
          eventTypes: [],
        };
        await fc.assert(
          fc.asyncProperty(
            fc.array(dayRowArb, { minLength: 64, maxLength: 90 }),
            fc.integer({ min: 1, max: 2 }),
            fc.integer({ min: 1, max: 2 }),
            async (rows, perChunk, pageSize) => {
              const paged = await logOf(rows, perChunk);
              const whole = await logOf(rows, perChunk);
              const target = targetFor(paged.db, projection, 1);
              for (let from = 1; ; from += pageSize) {
                const page = await paged.log.readFrom(from, pageSize);
                if (page.length === 0) break;
                await applyPage(target, await countPage(paged.log, page));
              }
              await projectInto(whole.db, whole.log, targetFor(whole.db, projection, 1), {
                fence: 1,
              });

              const answer = await createGetMetricSeries({ db: paged.db })(question);
              expect(answer).toEqual(await createGetMetricSeries({ db: whole.db })(question));
              expect({ series: withMetrics(answer), totals: answer.totals }).toEqual(recount(rows, question));
              // Document for document, not only the same answers: what a rebuild compares against.
              const docsOf = (db: Db) =>
                db.collection(collectionName('metricSeries', 1)).find({}).sort({ _id: 1 }).toArray();
              expect(await docsOf(paged.db)).toEqual(await docsOf(whole.db));
            },
          ),
          { numRuns: 8 },
        );
      }, 300_000);

      it('replaying a page, whole or in overlapping parts, changes nothing', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(rowArb, { minLength: 1, maxLength: 40 }),
            fc.integer({ min: 1, max: 8 }),
            fc.nat(),
            async (rows, perChunk, cut) => {
              const { db, log } = await logOf(rows, perChunk);
              const target = targetFor(db, projection, 1);
              const page = await log.readFrom(1, 500);
              const counted = (records: typeof page) => countPage(log, records);
              await applyPage(target, await counted(page));
              const collection = db.collection(collectionName('metricSeries', 1));
              const once = await collection.find({}).sort({ _id: 1 }).toArray();
              await applyPage(target, await counted(page));
              const at = cut % (page.length + 1);
              await applyPage(target, await counted(page.slice(0, at)));
              await applyPage(target, await counted(page.slice(Math.max(0, at - 1))));
              expect(await collection.find({}).sort({ _id: 1 }).toArray()).toEqual(once);
            },
          ),
          { numRuns: 15 },
        );
      }, 300_000);

      it("stays exact when the projector's memory of what it wrote is outdated by another writer", async () => {
        // A writer that lost its lease applied part of the next page and stopped before its checkpoint:
        // the projector's memory still looks valid (the page starts where its last one ended).
        await fc.assert(
          fc.asyncProperty(
            fc.array(rowArb, { minLength: 2, maxLength: 60 }),
            fc.array(rowArb, { minLength: 1, maxLength: 60 }),
            fc.integer({ min: 1, max: 6 }),
            fc.nat(),
            async (first, second, perChunk, cut) => {
              const { db, log } = await logOf(first, perChunk);
              const target = targetFor(db, projection, 1);
              const written = new ReadModelMemory(64 * 1024 * 1024);
              const reached = await projectInto(db, log, target, { fence: 1, written });
              await appendChunks(log, second, perChunk, Math.ceil(first.length / perChunk));
              const next = await log.readFrom(reached + 1, 500);
              const other = next.slice(0, 1 + (cut % next.length));
              await applyPage(target, await countPage(log, other));
              await projectInto(db, log, target, { fence: 1, written });

              const whole = await logOf(first, perChunk);
              await appendChunks(whole.log, second, perChunk, Math.ceil(first.length / perChunk));
              await projectInto(whole.db, whole.log, targetFor(whole.db, projection, 1), {
                fence: 1,
              });
              const docsOf = (at: Db) =>
                at.collection(collectionName('metricSeries', 1)).find({}).sort({ _id: 1 }).toArray();
              expect(await docsOf(db)).toEqual(await docsOf(whole.db));
            },
          ),
          { numRuns: 15 },
        );
      }, 300_000);
    });
  }

  /**
   * One type, one quarter-hour, 400 users, 50 of them twice: five records, of 100, 100, 100, 100
   * and 50 events.
   */
  function busyQuarterLog(): Promise<{ db: Db; log: EventLog }> {
    const rows: Row[] = Array.from({ length: 400 }, (_, i) => ({
      userId: `user-${i}`,
      eventType: 'view',
      millis: Date.UTC(2024, 0, 15, 9),
    }));
    return logOf([...rows, ...rows.slice(0, 50)], 100);
  }

  it('splits the users of a month that outgrows one document by fingerprint, each user in one part', async () => {
    const { db, log } = await busyQuarterLog();
    await projectInto(db, log, targetFor(db, metricSeriesProjection, 1), { fence: 1 });
    const splitAbove100 = createMetricSeriesProjection({ splitAboveUsers: 100 });
    await projectInto(db, log, targetFor(db, splitAbove100, 2), { fence: 1 });
    const docsOf = (version: number) =>
      db
        .collection<SeriesMonthDoc>(collectionName('metricSeries', version))
        .find({})
        .sort({ _id: 1 })
        .toArray();
    const whole = await docsOf(1);
    const split = await docsOf(2);
    const month = `2024-01/${String(shardOf('view')).padStart(2, '0')}`;
    expect(whole.map((d) => d._id)).toEqual([month]);
    expect(split.map((d) => d._id)).toEqual(
      [month, ...Array.from({ length: USER_PARTS }, (_, part) => `${month}/${part}`)].sort(),
    );
    const [head, ...parts] = split;
    expect(head).toMatchObject({ _id: month, split: true, lastPosition: 5 });
    expect(head?.types.map((t) => [t.eventType, [...wordsOf(t.counts)], t.users.length()])).toEqual([
      ['view', [14 * 96 + 36, 450], 0],
    ]);
    const users = new Set<string>();
    let holders = 0;
    for (const part of parts) {
      expect(part.lastPosition).toBe(5);
      for (const type of part.types) {
        expect(type.counts.length()).toBe(0);
        const words = wordsOf(type.users);
        for (let i = 0; i < words.length; i += USER_WORDS) {
          expect(partOf(words[i + 1] ?? 0)).toBe(part.part);
          users.add(`${words[i + 1]}:${words[i + 2]}`);
          holders += words[i + 3] ?? 0;
        }
      }
    }
    // Each (quarter-hour, user) once, held by as many chunks as have it.
    expect(users.size).toBe(400);
    expect(holders).toBe(450);
    expect(wholeMonths(split)).toEqual(whole);

    const question: SeriesParams = {
      tz: 'UTC',
      interval: 'day',
      from: '2024-01-15',
      to: '2024-01-15',
      eventTypes: [],
    };
    const totals = [{ eventType: 'view', count: 450, uniqueUsers: 400 }];
    expect((await createGetMetricSeries({ db })(question)).totals).toEqual(totals);
    expect(await switchVersion(db, 'metricSeries', 1, 2)).toBe(true);
    expect((await createGetMetricSeries({ db })(question)).totals).toEqual(totals);
  }, 120_000);

  it('reads a split month again while a page has written only some of its documents, and answers busy if that lasts', async () => {
    const { db, log } = await busyQuarterLog();
    const splitAbove100 = createMetricSeriesProjection({ splitAboveUsers: 100 });
    await projectInto(db, log, targetFor(db, splitAbove100, 1), { fence: 1 });
    const collection = db.collection<SeriesMonthDoc>(collectionName('metricSeries', 1));
    const month = `2024-01/${String(shardOf('view')).padStart(2, '0')}`;
    const head = await collection.findOne({ _id: month });
    expect(head).toMatchObject({ split: true, lastPosition: 5 });
    if (head === null) return;
    // The page of record 5 has written the parts but not yet the month's document (400 events).
    const quarter = wordsOf(head.types[0]?.counts)[0] ?? 0;
    const before: SeriesMonthDoc = {
      ...head,
      lastPosition: 4,
      types: [
        {
          eventType: 'view',
          counts: binaryOf(Uint32Array.from([quarter, 400])),
          users: binaryOf(new Uint32Array(0)),
        },
      ],
    };
    await collection.replaceOne({ _id: month }, before);
    const question: SeriesParams = {
      tz: 'Asia/Kolkata',
      interval: 'day',
      from: '2024-01-15',
      to: '2024-01-15',
      eventTypes: ['view'],
    };
    const getMetricSeries = createGetMetricSeries({ db });
    const answer = getMetricSeries(question);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await collection.replaceOne({ _id: month }, head);
    expect((await answer).totals).toEqual([{ eventType: 'view', count: 450, uniqueUsers: 400 }]);

    // A writer that stopped halfway: the query gives up (the API answers 503) rather than sum it.
    await collection.replaceOne({ _id: month }, before);
    const failure = await getMetricSeries({ ...question, tz: 'UTC' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ServiceBusyError);
    expect(failure instanceof Error ? failure.message : '').toMatch(
      /^The metric series of 2024-01 is being written/,
    );
  }, 120_000);
});
