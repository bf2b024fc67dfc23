import { BatchClaims } from '../../src/commands/uploadBatch/batchClaims';
import { eventKey } from '../../src/events/rawEvents';
import { csvOfRows, rawEvents, uploadCsv } from '../support/uploads';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

/**
 * MAX_CONCURRENT_UPLOADS bounds bodies arriving, not uploads waiting on the database: an upload
 * whose file has all arrived gives its slot back while it waits for another upload to settle.
 */
describe('upload slots', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      // Nothing expires or is swept during the test: the held claim settles only when the test says.
      env: {
        MAX_CONCURRENT_UPLOADS: '1',
        UPLOAD_CLAIM_EXPIRY_MS: '600000',
        UPLOAD_CLAIM_SWEEP_MS: '3600000',
      },
    });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('are held while the body arrives, not while the upload waits for another to settle', async () => {
    const db = service.runtime.mongo.db;
    const claims = new BatchClaims(db);
    // Another upload, still storing, holds the events of the first file.
    await claims.open({
      _id: 'held-batch',
      holder: 'another-api',
      fileName: 'held.csv',
      totalRows: 5,
      eventsPerChunk: 500,
      correlationId: 'c',
    });
    await rawEvents(db).insertMany(
      Array.from({ length: 5 }, (_, i) => {
        const timestamp = new Date(`2024-01-15T10:${String(i).padStart(2, '0')}:00.000Z`);
        return {
          _id: eventKey(`slot-a${i}`, 'click', timestamp.getTime()),
          batchId: 'held-batch',
          insertGroup: 0,
          userId: `slot-a${i}`,
          eventType: 'click',
          timestamp,
          metadata: {},
        };
      }),
    );
    let firstDone = false;
    const first = uploadCsv(service.baseUrl, csvOfRows(5, 0, 'slot-a')).finally(() => {
      firstDone = true;
    });
    // The first upload has stored and waits for the held claim once its own claim is on record.
    await waitFor(
      () => claims.all(),
      (all) => all.some((c) => c.batchId !== 'held-batch'),
      60_000,
      'the first upload to store',
    );
    const second = await uploadCsv(service.baseUrl, csvOfRows(5, 0, 'slot-b'));
    expect(second.status).toBe(201);
    expect(second.body.totalEvents).toBe(5);
    expect(firstDone).toBe(false);
    await claims.settle('held-batch', 'inserted');
    const firstReply = await first;
    expect(firstReply.status).toBe(201);
    expect(firstReply.body).toMatchObject({ totalEvents: 0, duplicates: 5 });
  }, 180_000);
});
