import { MongoClient, type Db } from 'mongodb';
import {
  deleteRawEventsOf,
  INSERT_GROUP_EVENTS,
  rawEventsCollection,
  type RawEvent,
} from '../../src/events/rawEvents';
import { uniqueName } from '../support/testConfig';

const uri = process.env.TEST_MONGODB_URI ?? '';

/**
 * FerretDB on PostgreSQL refuses to delete more than 65,535 rows in one statement ("extended
 * protocol limited to 65535 parameters"): a retraction or the collection of an abandoned upload of
 * a big file must still delete every event of its batch, and nothing of another.
 */
describe('deleting a batch raw events', () => {
  let client: MongoClient;
  let db: Db;

  beforeAll(async () => {
    client = await new MongoClient(uri).connect();
    db = client.db(uniqueName('delete'));
  });
  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });

  const event = (batchId: string, i: number, userId = `u${i % 7}`): RawEvent => ({
    _id: `${batchId}-${i}`,
    batchId,
    userId,
    eventType: 'click',
    timestamp: new Date(Date.UTC(2024, 0, 15)),
    metadata: {},
    insertGroup: Math.floor(i / INSERT_GROUP_EVENTS),
  });

  it('deletes more events than one statement can, and only those of the batch (and user)', async () => {
    const events = rawEventsCollection(db);
    const big = Array.from({ length: 70_000 }, (_, i) => event('big', i));
    for (let i = 0; i < big.length; i += 5000) await events.insertMany(big.slice(i, i + 5000));
    await events.insertMany(Array.from({ length: 10 }, (_, i) => event('other', i)));

    await deleteRawEventsOf(events, { batchId: 'big', userId: 'u3' });
    expect(await events.countDocuments({ batchId: 'big', userId: 'u3' })).toBe(0);
    expect(await events.countDocuments({ batchId: 'big' })).toBe(60_000);

    await deleteRawEventsOf(events, { batchId: 'big' });
    expect(await events.countDocuments({ batchId: 'big' })).toBe(0);
    expect(await events.countDocuments({ batchId: 'other' })).toBe(10);
  }, 300_000);
});
