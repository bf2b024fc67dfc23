import { batchKeys } from '../../src/events/batchHistory';
import { createEventLog, ensureEventLogIndexes, EVENT_LOG_COLLECTION } from '../../src/events/eventLog';
import { connectMongo, type Mongo } from '../../src/mongo';
import { testConfig } from '../support/testConfig';

/**
 * The write and read concerns the code sets (README "MongoDB in production"), on every collection
 * it opens, and FerretDB accepting them on real writes and reads.
 */
describe('MongoDB concerns', () => {
  let mongo: Mongo;

  beforeAll(async () => {
    const config = testConfig();
    mongo = await connectMongo(config.mongo.uri, config.mongo.dbName);
  });

  afterAll(async () => {
    await mongo.db.dropDatabase().catch(() => undefined);
    await mongo.client.close();
  });

  it('writes with w: majority (journaled) and reads majority-committed data from the primary', () => {
    for (const collection of [
      mongo.db.collection(EVENT_LOG_COLLECTION),
      mongo.db.collection('dailyMetrics_v1'),
    ]) {
      expect(collection.writeConcern?.w).toBe('majority');
      expect(collection.writeConcern?.journal).toBe(true);
      expect(collection.readConcern?.level).toBe('majority');
      expect(collection.readPreference?.mode).toBe('primary');
    }
  });

  it('appends to and reads the log with those concerns on FerretDB', async () => {
    await ensureEventLogIndexes(mongo.db);
    const log = createEventLog(mongo.db);
    const uploaded = {
      type: 'BatchUploaded',
      key: batchKeys.uploaded('concerns'),
      streamId: 'batch-concerns',
      data: {
        batchId: 'concerns',
        fileName: 'c.csv',
        totalRows: 1,
        newEvents: 1,
        duplicates: 0,
        eventsPerChunk: 1,
      },
      correlationId: 'concerns',
    } as const;
    const { record, appended } = await log.append(uploaded);
    expect(appended).toBe(true);
    expect(await log.head()).toBe(record.position);
    // The same append again (a retry) finds the record under its key.
    const again = await log.append(uploaded);
    expect(again.appended).toBe(false);
  });
});
