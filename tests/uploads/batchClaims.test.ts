import { BatchClaims } from '../../src/commands/uploadBatch/batchClaims';
import {
  appendBatchUploaded,
  sweepClaims,
  type ClaimSweepDeps,
} from '../../src/commands/uploadBatch/claimSweep';
import { rebuildChunks } from '../../src/events/deriveChunks';
import { batchKeys } from '../../src/events/batchHistory';
import { rawEventChunks } from '../../src/events/rawEventChunks';
import { batchRetractions } from '../../src/commands/batchRetractions';
import { eventKey } from '../../src/events/rawEvents';
import { startTestService, type TestService } from '../support/testService';
import { csvOfRows, rawEvents, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * The claim protocol (batchClaims.ts): uploads store side by side, and what a stopped upload left
 * (the documents it would leave are written here directly) is resolved without losing or doubling
 * an event.
 */
describe('uploads under batch claims', () => {
  let service: TestService;
  const EXPIRY_MS = 3000;
  const SETTLE_WAIT_MS = 1000;
  const db = () => service.runtime.mongo.db;
  const claims = () => new BatchClaims(db());

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      // The tests run the sweep themselves, so they know when it ran. The settle wait is far
      // shorter than the expiry: it bounds only the wait for a stalled retraction.
      env: {
        UPLOAD_CLAIM_EXPIRY_MS: String(EXPIRY_MS),
        UPLOAD_CLAIM_SWEEP_MS: '3600000',
        UPLOAD_SETTLE_WAIT_MS: String(SETTLE_WAIT_MS),
      },
    });
  });
  afterAll(async () => {
    await service.stop();
  });
  beforeEach(async () => {
    await rawEvents(db()).deleteMany({});
    await rawEventChunks(db()).deleteMany({});
  });

  /** The events csvOfRows(rows, from) holds, stored under `batchId` as a stopped upload left them. */
  async function leftBehind(batchId: string, rows: number, from: number): Promise<void> {
    const docs = [];
    for (let i = from; i < from + rows; i++) {
      const timestamp = new Date(
        `2024-01-15T10:${String(i % 60).padStart(2, '0')}:00.${String(Math.floor(i / 60) % 1000).padStart(3, '0')}Z`,
      );
      docs.push({
        _id: eventKey(`u${i}`, 'click', timestamp.getTime()),
        batchId,
        insertGroup: 0,
        userId: `u${i}`,
        eventType: 'click',
        timestamp,
        metadata: {},
      });
    }
    await rawEvents(db()).insertMany(docs);
  }

  async function openClaim(batchId: string, holder: string, totalRows: number): Promise<void> {
    await claims().open({
      _id: batchId,
      holder,
      fileName: 'left.csv',
      totalRows,
      eventsPerChunk: 500,
      correlationId: 'c',
    });
  }

  /** One sweep as an API named 'sweeper' runs it, unless `options` say otherwise. */
  function sweep(options: Partial<ClaimSweepDeps> = {}) {
    const { eventLog, logger } = service.runtime;
    return sweepClaims({
      db: db(),
      claims: claims(),
      eventLog,
      logger,
      fingerprintOf: service.runtime.userFingerprint,
      instanceName: 'sweeper',
      startedAt: Date.now(),
      expiryMs: EXPIRY_MS,
      ...options,
    });
  }

  it('stores two overlapping uploads at once, and their counts add up to the distinct events', async () => {
    const [a, b] = await Promise.all([
      uploadCsv(service.baseUrl, csvOfRows(3000, 0)),
      uploadCsv(service.baseUrl, csvOfRows(3000, 1500)),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(Number(a.body.totalEvents) + Number(b.body.totalEvents)).toBe(4500);
    expect(Number(a.body.duplicates) + Number(b.body.duplicates)).toBe(1500);
    expect(await rawEvents(db()).countDocuments({})).toBe(4500);
    for (const reply of [a, b]) {
      const batchId = String(reply.body.batchId);
      expect(await rawEvents(db()).countDocuments({ batchId })).toBe(reply.body.totalEvents);
    }
  }, 120_000);

  it('counts every event once when a re-upload meets the events of an upload that stopped mid-way', async () => {
    // The stopped upload stored 800 of the file's rows and its heartbeat stopped.
    await openClaim('stopped-mid-way', 'dead-api', 2000);
    await leftBehind('stopped-mid-way', 800, 0);
    const again = await uploadCsv(service.baseUrl, csvOfRows(2000, 0));
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ totalEvents: 2000, duplicates: 0 });
    expect(await rawEvents(db()).countDocuments({ batchId: 'stopped-mid-way' })).toBe(0);
    expect(await rawEvents(db()).countDocuments({ batchId: String(again.body.batchId) })).toBe(2000);
    const state = (await claims().all()).find((v) => v.batchId === 'stopped-mid-way')?.state;
    expect(state).toBe('collected');
  }, 120_000);

  it('finishes an inserted upload whose holder stopped: chunks from its events, then BatchUploaded', async () => {
    await openClaim('inserted-dead', 'dead-api', 1200);
    await leftBehind('inserted-dead', 1000, 10_000);
    await claims().settle('inserted-dead', 'inserted');
    // Its heartbeat has not expired yet: the sweep leaves a live holder alone.
    await sweep();
    expect(await service.runtime.eventLog.findByKey(batchKeys.uploaded('inserted-dead'))).toBeUndefined();
    await new Promise((r) => setTimeout(r, EXPIRY_MS + 500));
    await sweep();
    const record = await service.runtime.eventLog.findByKey(batchKeys.uploaded('inserted-dead'));
    expect(record?.data).toMatchObject({ newEvents: 1000, duplicates: 200, totalRows: 1200 });
    const chunks = await rawEventChunks(db()).find({ batchId: 'inserted-dead' }).toArray();
    expect(chunks.reduce((sum, c) => sum + c.count, 0)).toBe(1000);
    expect((await claims().all()).find((v) => v.batchId === 'inserted-dead')?.state).toBe('uploaded');
    // Its events are final: a re-upload finds them all.
    const again = await uploadCsv(service.baseUrl, csvOfRows(1000, 10_000));
    expect(again.body).toMatchObject({ totalEvents: 0, duplicates: 1000 });
  }, 120_000);

  it('starts the processing an upload asked for when its holder stopped after BatchUploaded', async () => {
    // The holder appended BatchUploaded and died before it could start processing: the claim is all
    // that says processing was asked for.
    await claims().open({
      _id: 'uploaded-unprocessed',
      holder: 'dead-api',
      fileName: 'posts',
      totalRows: 100,
      eventsPerChunk: 500,
      correlationId: 'c',
      autoProcess: true,
    });
    await leftBehind('uploaded-unprocessed', 100, 50_000);
    await claims().settle('uploaded-unprocessed', 'inserted');
    await rebuildChunks(db(), 'uploaded-unprocessed', 500, service.runtime.userFingerprint);
    await appendBatchUploaded(service.runtime.eventLog, 'uploaded-unprocessed', {
      fileName: 'posts',
      totalRows: 100,
      newEvents: 100,
      duplicates: 0,
      eventsPerChunk: 500,
      correlationId: 'c',
    });
    const started: string[] = [];
    await new Promise((r) => setTimeout(r, EXPIRY_MS + 500));
    await sweep({
      processRecovered: (batchId) => {
        started.push(batchId);
        return Promise.resolve();
      },
    });
    expect(started).toEqual(['uploaded-unprocessed']);
    expect((await claims().all()).find((v) => v.batchId === 'uploaded-unprocessed')?.state).toBe('uploaded');
  }, 60_000);

  it('waits for a live upload that holds some of its events as long as it shows life, then counts them as duplicates', async () => {
    // Another API is still storing 800 of the file's events, for longer than the settle wait and the
    // expiry, and keeps its heartbeat fresh all along.
    await openClaim('slow-holder', 'live-api', 1000);
    await leftBehind('slow-holder', 800, 60_000);
    const beating = setInterval(() => {
      // A beat lost to a slow database only makes the claim look older; the next one renews it.
      claims()
        .heartbeat('slow-holder', 'live-api')
        .catch(() => undefined);
    }, 500);
    let answered = false;
    try {
      const reply = uploadCsv(service.baseUrl, csvOfRows(1000, 60_000)).finally(() => {
        answered = true;
      });
      await new Promise((r) => setTimeout(r, EXPIRY_MS + SETTLE_WAIT_MS + 2000));
      // Its own events are final already; the answer waits for the other upload's outcome.
      expect(answered).toBe(false);
      await claims().settle('slow-holder', 'inserted');
      clearInterval(beating);
      const done = await reply;
      expect(done.status).toBe(201);
      expect(done.body).toMatchObject({ totalEvents: 200, duplicates: 800 });
      expect(await rawEvents(db()).countDocuments({ batchId: 'slow-holder' })).toBe(800);
    } finally {
      clearInterval(beating);
      await claims().markUploaded('slow-holder');
    }
  }, 120_000);

  it('answers 503 ServiceBusy when a retraction that holds some of its events shows no life for the settle wait', async () => {
    const longAgo = new Date(Date.now() - 3_600_000);
    await batchRetractions(db()).insertOne({
      _id: 'retraction-stalled',
      reason: 'test',
      correlationId: 'c',
      requestedAt: longAgo,
      heartbeatAt: longAgo,
    });
    try {
      await leftBehind('retraction-stalled', 300, 70_000);
      const reply = await uploadCsv(service.baseUrl, csvOfRows(300, 70_000));
      expect(reply).toMatchObject({ status: 503, body: { error: 'ServiceBusy' } });
    } finally {
      await batchRetractions(db()).deleteOne({ _id: 'retraction-stalled' });
    }
  }, 120_000);

  it('frees the claims of its previous life at once when an instance restarts under its name', async () => {
    const name = service.config.uploads.instanceName;
    // Fresh heartbeats, far from expiring: only the instance name tells that these holders are gone.
    await openClaim('before-restart', name, 500);
    await leftBehind('before-restart', 500, 20_000);
    await openClaim('other-instance', 'another-api', 500);
    await leftBehind('other-instance', 500, 30_000);
    await sweep({ instanceName: name, expiryMs: 600_000 });
    expect(await rawEvents(db()).countDocuments({ batchId: 'before-restart' })).toBe(0);
    expect(await rawEvents(db()).countDocuments({ batchId: 'other-instance' })).toBe(500);
    const states = new Map((await claims().all()).map((v) => [v.batchId, v.state]));
    expect(states.get('before-restart')).toBe('collected');
    expect(states.get('other-instance')).toBe('storing');
  }, 60_000);

  it('frees them when a restarted API starts, through its sweep at start', async () => {
    await openClaim('killed-api-upload', service.config.uploads.instanceName, 300);
    await leftBehind('killed-api-upload', 300, 40_000);
    const restarted = await startTestService({
      workers: false,
      keepDatabase: true,
      env: {
        MONGODB_DB: service.config.mongo.dbName,
        UPLOAD_CLAIM_EXPIRY_MS: '600000',
        UPLOAD_CLAIM_SWEEP_MS: '3600000',
      },
    });
    try {
      await waitFor(
        () => rawEvents(db()).countDocuments({ batchId: 'killed-api-upload' }),
        (n) => n === 0,
        60_000,
        'the restarted API to collect its earlier claim',
      );
    } finally {
      await restarted.stop();
    }
  }, 120_000);
});
