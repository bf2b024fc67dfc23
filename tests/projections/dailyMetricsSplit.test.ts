import { MongoClient, type Db } from 'mongodb';
import { createEventLog } from '../../src/events/eventLog';
import { createUserFingerprint } from '../../src/events/userFingerprint';
import {
  createDailyMetricsProjection,
  dailyMetricsProjection,
  dayLayoutProblems,
  wholeDays,
  type DailyMetricsDoc,
} from '../../src/projections/dailyMetrics';
import { projectInto, targetFor } from '../../src/projections/projector';
import { collectionName, switchVersion } from '../../src/projections/readModels';
import { shardOf } from '../../src/projections/seriesMonth';
import { createGetDailyMetrics } from '../../src/queries/getDailyMetrics';
import { appendProcessedChunk, type CountedEvent } from '../support/processedChunk';
import { uniqueName } from '../support/testConfig';

const userFingerprint = createUserFingerprint(Buffer.from('a fixed user hash key for this file only'));

/** A day with more event types than its document may hold is kept in parts, and read whole. */
describe('a day split into parts (real FerretDB)', () => {
  let client: MongoClient;
  let db: Db;

  beforeAll(async () => {
    client = await new MongoClient(process.env.TEST_MONGODB_URI ?? '').connect();
    db = client.db(uniqueName('daysplit'));
  });
  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });

  it('keeps each type in the part of its shard, and answers the day as one', async () => {
    const log = createEventLog(db);
    const at = Date.UTC(2024, 2, 5, 12);
    // 60 types, type i counted i + 1 times, in three chunks.
    const events = Array.from({ length: 60 }, (_, i) =>
      Array.from({ length: i + 1 }, (_, n): CountedEvent => [`type-${i}`, at + n, userFingerprint(`u${n}`)]),
    ).flat();
    for (let chunk = 0; chunk < 3; chunk++) {
      await appendProcessedChunk(
        log,
        chunk,
        events.filter((_, i) => i % 3 === chunk),
      );
    }
    await projectInto(db, log, targetFor(db, dailyMetricsProjection, 1), { fence: 1 });
    await projectInto(db, log, targetFor(db, createDailyMetricsProjection({ splitAboveBytes: 500 }), 2), {
      fence: 1,
    });
    const docsOf = (version: number) =>
      db
        .collection<DailyMetricsDoc>(collectionName('dailyMetrics', version))
        .find({})
        .sort({ _id: 1 })
        .toArray();

    expect((await docsOf(1)).map((d) => d._id)).toEqual(['2024-03-05']);
    const split = await docsOf(2);
    expect(split.map((d) => d._id)).toEqual(
      ['2024-03-05', ...Array.from({ length: 16 }, (_, part) => `2024-03-05/${part}`)].sort(),
    );
    expect(dayLayoutProblems(split)).toEqual([]);
    expect(split.find((d) => d._id === '2024-03-05')).toMatchObject({
      split: true,
      counts: [],
      lastPosition: 3,
    });
    for (const part of split.filter((d) => d.part !== undefined)) {
      expect(part.lastPosition).toBe(3);
      for (const { eventType } of part.counts) expect(shardOf(eventType)).toBe(part.part);
    }

    const whole = await createGetDailyMetrics({ db })('2024-03-05');
    expect(whole.metrics).toHaveLength(60);
    expect(whole.metrics.find((m) => m.eventType === 'type-59')).toEqual({ eventType: 'type-59', count: 60 });
    expect(await switchVersion(db, 'dailyMetrics', 1, 2)).toBe(true);
    expect(await createGetDailyMetrics({ db })('2024-03-05')).toEqual(whole);

    // A join stopped after the day's document took the counts back: its parts are left beside it,
    // ignored by readers, and gone once the next page that reads the day's year writes it.
    const [joined] = wholeDays(split);
    if (joined === undefined) throw new Error('no day');
    const { _id, ...day } = joined;
    await db.collection<DailyMetricsDoc>(collectionName('dailyMetrics', 2)).replaceOne({ _id }, day);
    expect(dayLayoutProblems(await docsOf(2))).toHaveLength(16);
    expect(await createGetDailyMetrics({ db })('2024-03-05')).toEqual(whole);
    await appendProcessedChunk(log, 3, [['type-0', at, userFingerprint('u0')]]);
    await projectInto(db, log, targetFor(db, dailyMetricsProjection, 2), { fence: 1 });
    const after = await docsOf(2);
    expect(after.map((d) => d._id)).toEqual(['2024-03-05']);
    expect(after[0]?.counts.find((c) => c.eventType === 'type-0')).toEqual({ eventType: 'type-0', count: 2 });
  }, 120_000);
});
