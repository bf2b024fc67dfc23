import { MongoClient } from 'mongodb';
import { RAW_EVENT_CHUNKS_COLLECTION, type RawEventChunk } from '../../src/events/rawEventChunks';
import { startPrivateFerretDb, type PrivateServer } from '../support/privateServers';
import { startTestService, type TestService } from '../support/testService';
import { csvOfRows, rawEvents, uploadCsv } from '../support/uploads';

/** Stops the database in the middle of an upload: a real fault, on a FerretDB of this test's own. */
describe('an upload when the database fails part-way', () => {
  let ferret: PrivateServer;
  let service: TestService;
  let observer: MongoClient;
  const ROWS = 12_000;
  // The failed upload cannot abandon its claim while the database is down, and its process lives
  // on, so the re-upload waits for the claim to expire: short, but long enough that a heartbeat
  // delayed by a loaded machine does not lose it mid-upload.
  const EXPIRY_MS = 4000;
  const CHUNK_EVENTS = 500;

  beforeAll(async () => {
    ferret = await startPrivateFerretDb();
    service = await startTestService({
      workers: false,
      env: {
        MONGODB_URI: ferret.url,
        UPLOAD_CLAIM_EXPIRY_MS: String(EXPIRY_MS),
        // No background sweep: it would collect the failed upload's leftovers as soon as the
        // database is back, before the re-upload this test hands them to starts.
        UPLOAD_CLAIM_SWEEP_MS: '3600000',
        MAX_UPLOAD_BYTES: String(8 * 1024 * 1024),
        // Small chunks: the first one is written while most of the file is still to be inserted.
        EVENTS_PER_CHUNK: String(CHUNK_EVENTS),
      },
    });
    observer = await new MongoClient(ferret.url, { serverSelectionTimeoutMS: 2000 }).connect();
  });
  afterAll(async () => {
    await observer.close().catch(() => undefined);
    await service.stop();
    await ferret.destroy();
  });

  async function waitUntil(predicate: () => Promise<boolean>, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await predicate().catch(() => false))) {
      if (Date.now() > deadline) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('answers 503 within seconds, and a re-upload afterwards stores and counts every event once', async () => {
    const events = rawEvents(observer.db(service.config.mongo.dbName));
    const chunks = observer
      .db(service.config.mongo.dbName)
      .collection<RawEventChunk>(RAW_EVENT_CHUNKS_COLLECTION);
    const csv = csvOfRows(ROWS);
    const pending = uploadCsv(service.baseUrl, csv);

    // Stopped once the upload has stored some events and cut its first chunk from them: after its
    // first insert of 1,000 events (two are in flight), with at least 10,000 rows still to insert.
    await waitUntil(async () => (await chunks.estimatedDocumentCount()) > 0, 30_000);
    await ferret.stop();
    const stoppedAt = Date.now();
    const failed = await pending;
    expect(failed.status).toBe(503);
    expect(failed.body.error).toBe('ServiceUnavailable');
    // A hang guard, not a speed check (server selection gives up after 5 s, the upload retries its undo).
    expect(Date.now() - stoppedAt).toBeLessThan(60_000);

    await ferret.start();
    await waitUntil(async () => (await fetch(`${service.baseUrl}/health`)).status === 200, 30_000);
    // The failed upload could not abandon its claim while the database was down: its events are still there.
    expect(await events.countDocuments({})).toBeGreaterThan(0);

    // The re-upload sets aside the events the failed upload holds, waits for its claim to expire,
    // abandons and collects it, then stores them again.
    const retried = await uploadCsv(service.baseUrl, csv);
    expect(retried.status).toBe(201);
    expect(retried.body).toMatchObject({ totalEvents: ROWS, duplicates: 0 });
    expect(await events.countDocuments({})).toBe(ROWS);
    expect(await events.countDocuments({ batchId: retried.body.batchId as string })).toBe(ROWS);
    // The failed upload's chunks went with its events: only the retried batch's remain.
    const counts = await chunks.find({}, { projection: { batchId: 1, count: 1 } }).toArray();
    expect(counts.every((c) => c.batchId === retried.body.batchId)).toBe(true);
    expect(counts.reduce((sum, c) => sum + c.count, 0)).toBe(ROWS);

    const again = await uploadCsv(service.baseUrl, csv);
    expect(again.body).toMatchObject({ totalEvents: 0, duplicates: ROWS });
    // A guard against a hang, not a speed check.
  }, 180_000);
});
