import { batchKeys } from '../../src/events/batchHistory';
import { randomUUID } from 'node:crypto';
import { STORE_LEASES_COLLECTION } from '../../src/commands/uploadBatch/storeLease';
import { runUploadRecovery } from '../../src/compose';
import {
  currentProcess,
  processIdentityOf,
  type ProcessIdentity,
} from '../../src/commands/uploadBatch/processIdentity';
import {
  UPLOAD_OUTCOMES_COLLECTION,
  UPLOAD_SESSIONS_COLLECTION,
  UploadSessions,
  type OutcomeDoc,
  type SessionDoc,
} from '../../src/commands/uploadBatch/uploadSessions';
import { RAW_EVENT_CHUNKS_COLLECTION } from '../../src/events/rawEventChunks';
import { eventKey, type RawEvent } from '../../src/events/rawEvents';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * What an interrupted upload leaves behind (its session, events, chunk documents, maybe the store
 * lease) and how the next upload or the recovery sweep ends it: purged, or committed when the
 * upload had decided to commit. Leftovers are planted in exactly the shape the upload writes.
 */
describe('uploads after an interrupted upload', () => {
  let service: TestService;
  const db = () => service.runtime.mongo.db;
  const sessions = () => db().collection<SessionDoc>(UPLOAD_SESSIONS_COLLECTION);
  const outcomes = () => db().collection<OutcomeDoc>(UPLOAD_OUTCOMES_COLLECTION);
  const leases = () =>
    db().collection<{ _id: number; owner: string; holder: ProcessIdentity; until: Date; released: boolean }>(
      STORE_LEASES_COLLECTION,
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

  function doc(batchId: string, userId: string, at: number, slice: number): RawEvent {
    const key = eventKey(userId, 'purchase', at);
    return {
      _id: key,
      batchId,
      slice,
      userId,
      eventType: 'purchase',
      timestamp: new Date(at),
      metadata: {},
    };
  }

  /** An interrupted upload: its session and the first `count` rows' events, `perSlice` to a slice. */
  async function leftBehind(count: number, perSlice = count): Promise<string> {
    const batchId = randomUUID();
    const docs = rows.slice(0, count).map((r, i) => doc(batchId, r.userId, r.at, Math.floor(i / perSlice)));
    await rawEvents(db()).insertMany(docs);
    await db()
      .collection<{ _id: string; [field: string]: unknown }>(RAW_EVENT_CHUNKS_COLLECTION)
      .insertOne({ _id: `${batchId}:0`, batchId, chunk: 0, slice: 0, count });
    await sessions().insertOne({
      _id: batchId,
      fileName: 'x.csv',
      createdAt: new Date(),
      epoch: 1,
      eventsPerChunk: 5000,
      slices: Math.ceil(count / perSlice),
      purgedSlices: 0,
      purgeError: null,
      purgeFailedAt: null,
    });
    return batchId;
  }

  /** A store lease held by `holder` until `untilMs` from now. */
  async function leaseHeldBy(holder: ProcessIdentity, untilMs: number): Promise<void> {
    const newest = await leases().find({}).toArray();
    const epoch = Math.max(0, ...newest.map((d) => d._id)) + 1;
    await leases().insertOne({
      _id: epoch,
      owner: 'someone',
      holder,
      until: new Date(Date.now() + untilMs),
      released: false,
    });
  }

  async function expectAllStoredBy(reply: { status: number; body: Record<string, unknown> }): Promise<void> {
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ totalEvents: N, duplicates: 0 });
    expect(await rawEvents(db()).countDocuments({ batchId: reply.body.batchId as string })).toBe(N);
    expect(await rawEvents(db()).countDocuments({})).toBe(N);
  }

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      // Sweeps only when a test wants one (it calls it); waits for a held lease up to 3 s.
      env: {
        UPLOAD_RECOVERY_INTERVAL_MS: '3600000',
        UPLOAD_STORE_WAIT_MS: '3000',
        UPLOAD_LEASE_MS: '600000',
      },
    });
  });
  afterAll(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    for (const name of [UPLOAD_SESSIONS_COLLECTION, UPLOAD_OUTCOMES_COLLECTION, STORE_LEASES_COLLECTION]) {
      await db().collection(name).deleteMany({});
    }
    await rawEvents(db()).deleteMany({});
    await db().collection(RAW_EVENT_CHUNKS_COLLECTION).deleteMany({});
  });

  it('purges the events and chunks of an interrupted upload, then stores every row once', async () => {
    const dead = await leftBehind(25, 10);
    await expectAllStoredBy(await uploadCsv(service.baseUrl, csv));
    expect(await rawEvents(db()).countDocuments({ batchId: dead })).toBe(0);
    expect(await db().collection(RAW_EVENT_CHUNKS_COLLECTION).countDocuments({ batchId: dead })).toBe(0);
    expect(await sessions().countDocuments({})).toBe(0);
    expect(await outcomes().findOne({ _id: dead })).toMatchObject({ outcome: 'purge' });
  });

  it('finishes the commit of an upload that had decided to commit, starts its processing, and counts its events once', async () => {
    const cut = await leftBehind(15);
    await outcomes().insertOne({
      _id: cut,
      outcome: 'commit',
      at: new Date(),
      commit: {
        fileName: 'x.csv',
        totalRows: 15,
        newEvents: 15,
        duplicates: 0,
        eventsPerChunk: 5000,
        correlationId: 't',
      },
    });
    const reply = await uploadCsv(service.baseUrl, csv);
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ totalEvents: N - 15, duplicates: 15 });
    const committed = await service.runtime.eventLog.findByKey(batchKeys.uploaded(cut));
    expect(committed?.data).toMatchObject({ batchId: cut, newEvents: 15, eventsPerChunk: 5000 });
    // No client knows the recovered batch's id, so recovery starts its processing itself.
    expect(await service.runtime.eventLog.findByKey(`BatchProcessingStarted:${cut}:1`)).toBeDefined();
    expect(await rawEvents(db()).countDocuments({ batchId: cut })).toBe(15);
    expect(await rawEvents(db()).countDocuments({})).toBe(N);
  });

  it('purges more than PostgreSQL can name in one statement, a slice at a time', async () => {
    // 70,000 events in two slices; one delete of all of them would name 70,000 ids (limit 65,535).
    const batchId = randomUUID();
    const many = Array.from({ length: 70_000 }, (_, i) =>
      doc(batchId, `bulk-${i}`, Date.UTC(2024, 0, 1) + i, i < 50_000 ? 0 : 1),
    );
    for (let i = 0; i < many.length; i += 5000) await rawEvents(db()).insertMany(many.slice(i, i + 5000));
    await sessions().insertOne({
      _id: batchId,
      fileName: 'big.csv',
      createdAt: new Date(),
      epoch: 1,
      eventsPerChunk: 5000,
      slices: 2,
      purgedSlices: 0,
      purgeError: null,
      purgeFailedAt: null,
    });
    await expectAllStoredBy(await uploadCsv(service.baseUrl, csv));
    expect(await rawEvents(db()).countDocuments({ batchId })).toBe(0);
  }, 120_000);

  it('answers 503 with Retry-After while another upload holds its turn, and stores once it is free', async () => {
    // Held by another live process of this machine (Jest's parent process).
    await leaseHeldBy(processIdentityOf(process.ppid), 600_000);
    const refused = await fetch(`${service.baseUrl}/api/uploads`, { method: 'POST', body: form() });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ error: 'ServiceBusy' });
    expect(await rawEvents(db()).countDocuments({})).toBe(0);

    await leases().updateMany({}, { $set: { released: true } });
    await expectAllStoredBy(await uploadCsv(service.baseUrl, csv));
  });

  it('takes the turn of a holder that has died on this machine at once, without waiting out its lease', async () => {
    const self = currentProcess();
    // A pid that is not running: a process of this machine (same boot) that has exited.
    await leaseHeldBy({ ...self, pid: 2 ** 22 + 7, startTicks: '1' }, 600_000);
    const dead = await leftBehind(20);
    await expectAllStoredBy(await uploadCsv(service.baseUrl, csv));
    expect(await rawEvents(db()).countDocuments({ batchId: dead })).toBe(0);
  });

  it('takes at once a turn this process left unreleased (its upload failed with the database gone)', async () => {
    await leaseHeldBy(currentProcess(), 600_000);
    const dead = await leftBehind(20);
    await expectAllStoredBy(await uploadCsv(service.baseUrl, csv));
    expect(await rawEvents(db()).countDocuments({ batchId: dead })).toBe(0);
  });

  it('lets nothing commit once a purger has decided to purge it', async () => {
    const uploads = new UploadSessions(db());
    const batchId = randomUUID();
    expect(await uploads.decide(batchId, 'purge', null)).toMatchObject({ outcome: 'purge' });
    const facts = {
      fileName: 'x.csv',
      totalRows: 1,
      newEvents: 1,
      duplicates: 0,
      eventsPerChunk: 5000,
      correlationId: 't',
    };
    expect(await uploads.decide(batchId, 'commit', facts)).toMatchObject({ outcome: 'purge' });
  });

  it('ends left-behind sessions in the background when no upload comes', async () => {
    const dead = await leftBehind(12);
    const sweeping = service.runtime.config.uploads.recoveryIntervalMs;
    expect(sweeping).toBeGreaterThan(60_000);
    const recovery = runUploadRecovery({
      ...service.runtime,
      config: {
        ...service.runtime.config,
        uploads: { ...service.runtime.config.uploads, recoveryIntervalMs: 100 },
      },
    });
    try {
      await waitFor(
        () => sessions().countDocuments({}),
        (n) => n === 0,
        30_000,
        'the sweep to end the session',
      );
    } finally {
      recovery.stop();
    }
    expect(await rawEvents(db()).countDocuments({ batchId: dead })).toBe(0);
  });

  function form(): FormData {
    const body = new FormData();
    body.append('file', new Blob([csv], { type: 'text/csv' }), 'events.csv');
    return body;
  }
});
