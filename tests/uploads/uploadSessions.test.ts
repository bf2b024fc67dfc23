import { UPLOAD_SESSIONS_COLLECTION, UploadSessions } from '../../src/commands/uploadBatch/uploadSessions';
import { eventKey, type RawEvent } from '../../src/events/rawEvents';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents, uploadCsv } from '../support/uploads';

/**
 * Events left by uploads that never committed: from a dead upload (expired lease or no session at
 * all) they are purged and stored again; from a live one the count waits for its outcome.
 */
describe('uploads next to uncommitted batches', () => {
  let service: TestService;
  const db = () => service.runtime.mongo.db;
  const sessions = () =>
    db().collection<{ _id: string; state: string; fileName: string; createdAt: Date; leaseUntil: Date }>(
      UPLOAD_SESSIONS_COLLECTION,
    );

  const N = 40;
  const rows = Array.from({ length: N }, (_, i) => ({
    userId: `user-${i}`,
    eventType: 'purchase',
    at: Date.UTC(2024, 5, 1, 12, 0, i),
  }));
  const csv = [
    'userId,eventType,timestamp',
    ...rows.map((r) => `${r.userId},${r.eventType},${new Date(r.at).toISOString()}`),
  ].join('\n');

  /** Stores the first `count` rows' events as owned by `batchId`, as an upload in flight would have. */
  async function plant(batchId: string, count: number): Promise<void> {
    const docs: RawEvent[] = rows.slice(0, count).map((r) => {
      const key = eventKey(r.userId, r.eventType, r.at);
      return {
        _id: key,
        idempotencyKey: key,
        batchId,
        userId: r.userId,
        eventType: r.eventType,
        timestamp: new Date(r.at),
        metadata: {},
      };
    });
    await rawEvents(db()).insertMany(docs);
  }

  async function session(batchId: string, leaseMs: number, state = 'inserting'): Promise<void> {
    const now = Date.now();
    await sessions().insertOne({
      _id: batchId,
      state,
      fileName: 'x.csv',
      createdAt: new Date(now),
      leaseUntil: new Date(now + leaseMs),
    });
  }

  beforeAll(async () => {
    service = await startTestService({ workers: false });
  });
  afterAll(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    await rawEvents(db()).deleteMany({});
    await sessions().deleteMany({});
  });

  async function expectAllStoredBy(reply: { status: number; body: Record<string, unknown> }): Promise<void> {
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ totalEvents: N, duplicates: 0 });
    expect(await rawEvents(db()).countDocuments({ batchId: reply.body.batchId as string })).toBe(N);
    expect(await rawEvents(db()).countDocuments({})).toBe(N);
  }

  it('purges the events of an upload whose lease expired before storing', async () => {
    await plant('expired-upload', 25);
    await session('expired-upload', -1000);
    await expectAllStoredBy(await uploadCsv(service.baseUrl, csv));
    // Kept for one more lease, in case the dead upload still had inserts in flight.
    expect(await sessions().findOne({ _id: 'expired-upload' })).toMatchObject({ state: 'purging' });
  });

  it('finishes a purge that stopped after marking the session, before deleting the events', async () => {
    await plant('half-purged', 10);
    await session('half-purged', -1000, 'purging');
    await expectAllStoredBy(await uploadCsv(service.baseUrl, csv));
    expect(await sessions().countDocuments({ _id: 'half-purged' })).toBe(0);
  });

  it('re-stores events of a batch being purged, and keeps its session until the grace ends', async () => {
    await plant('purging-upload', 20);
    await session('purging-upload', 10_000, 'purging');
    await expectAllStoredBy(await uploadCsv(service.baseUrl, csv));
    expect(await sessions().countDocuments({ _id: 'purging-upload' })).toBe(1);
  });

  it('lets no upload renew a session once a purge has marked it', async () => {
    const uploads = new UploadSessions(db(), service.runtime.eventLog, 1000);
    await session('slow-upload', -1000);
    await uploads.purge('slow-upload');
    expect(await uploads.renew('slow-upload')).toBe(false);
    expect(await sessions().findOne({ _id: 'slow-upload' })).toMatchObject({ state: 'purging' });
    expect(await uploads.ownerStatus('slow-upload')).toBe('dead');
  });

  it('waits for a live upload that then dies, and stores its events under the new batch', async () => {
    await plant('dying-upload', 30);
    await session('dying-upload', 1500);
    await expectAllStoredBy(await uploadCsv(service.baseUrl, csv));
  });

  it('waits for a live upload that then commits, and counts its events as duplicates', async () => {
    await plant('peer-upload', 15);
    await session('peer-upload', 10_000);
    const reply = uploadCsv(service.baseUrl, csv);
    await new Promise((r) => setTimeout(r, 500));
    await service.runtime.eventLog.append({
      type: 'BatchUploaded',
      key: 'BatchUploaded:peer-upload',
      streamId: 'batch:peer-upload',
      data: { batchId: 'peer-upload', fileName: 'x.csv', totalRows: 15, newEvents: 15, duplicates: 0 },
      correlationId: 'test-peer',
    });
    await sessions().deleteOne({ _id: 'peer-upload' });
    const { status, body } = await reply;
    expect(status).toBe(201);
    expect(body).toMatchObject({ totalEvents: N - 15, duplicates: 15 });
    expect(await rawEvents(db()).countDocuments({ batchId: 'peer-upload' })).toBe(15);
    expect(await rawEvents(db()).countDocuments({})).toBe(N);
  });
});
