import { chunkJobId, chunkJobOptions } from '../../src/chunkJobs';
import { runWorkers } from '../../src/compose';
import { batchKeys } from '../../src/events/batchHistory';
import type { RunningWorkers } from '../../src/workers/startWorkers';
import { RAW_EVENT_CHUNKS_COLLECTION } from '../../src/events/rawEventChunks';
import { RAW_EVENTS_COLLECTION } from '../../src/events/rawEvents';
import { BATCH_RETRACTIONS_COLLECTION, cleanUpRetraction } from '../../src/commands/batchRetractions';
import { sweepRetractions } from '../../src/commands/retractionSweep';
import { expectDocumented } from '../support/openapi';
import { projectionsCaughtUp } from '../support/recount';
import { TEST_ADMIN_KEY } from '../support/testConfig';
import { startTestService, type TestService } from '../support/testService';
import { batchStatusOf, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/** `n` distinct events from `first` on: clicks on the 1st, views on the 2nd of `month` 2024 (UTC). */
function csvOf(first: number, n: number, month = '03'): string {
  const lines = ['userId,eventType,timestamp'];
  for (let i = first; i < first + n; i++) {
    const day = i % 2 === 0 ? '01' : '02';
    const type = i % 2 === 0 ? 'click' : 'view';
    lines.push(
      `u${i % 5},${type},2024-${month}-${day}T00:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(3, '0')}Z`,
    );
  }
  return `${lines.join('\n')}\n`;
}

describe('POST /api/batches/:id/retract', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ env: { EVENTS_PER_CHUNK: '4' } });
  });

  afterAll(async () => {
    await service.stop();
  });

  const get = async (path: string) => {
    const res = await fetch(`${service.baseUrl}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const post = async (path: string, body?: unknown, key: string | null = TEST_ADMIN_KEY) => {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (key !== null) headers['X-API-Key'] = key;
    const res = await fetch(`${service.baseUrl}${path}`, {
      method: 'POST',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const upload = async (
    csv: string,
  ): Promise<{ batchId: string; totalEvents: number; duplicates: number }> => {
    const reply = await uploadCsv(service.baseUrl, csv);
    expect(reply.status).toBe(201);
    return reply.body as { batchId: string; totalEvents: number; duplicates: number };
  };
  const processed = async (batchId: string): Promise<void> => {
    expect((await post(`/api/batches/${batchId}/process`)).status).toBe(202);
    await waitFor(
      async () => (await get(`/api/batches/${batchId}`)).body.status,
      (s) => s === 'completed',
      30_000,
      'batch completed',
    );
  };
  const stored = (collection: string, batchId: string) =>
    service.runtime.mongo.db.collection(collection).countDocuments({ batchId });
  const metricsOf = async (date: string) => (await get(`/api/metrics?date=${date}`)).body;

  it('answers what it withdrew, marks the batch retracted, and a second call changes nothing', async () => {
    const { batchId } = await upload(csvOf(0, 10));
    await processed(batchId);

    const first = await post(`/api/batches/${batchId}/retract`, { reason: 'wrong timezone' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      batchId,
      status: 'retracted',
      reason: 'wrong timezone',
      eventsWithdrawn: 10,
      countedEventsWithdrawn: 10,
      days: ['2024-03-01', '2024-03-02'],
      eventTypes: ['click', 'view'],
      alreadyRetracted: false,
    });
    expectDocumented('POST /api/batches/{id}/retract', first);

    const second = await post(`/api/batches/${batchId}/retract`, { reason: 'another reason' });
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ ...first.body, alreadyRetracted: true });

    const shown = await waitFor(
      async () => (await get(`/api/batches/${batchId}`)).body,
      (b) => b.status === 'retracted',
      30_000,
      'batch shown retracted',
    );
    expect(shown).toMatchObject({ retracted: true, retractionReason: 'wrong timezone' });
    expect(shown.retractedAt).toBe(first.body.retractedAt);
    expectDocumented('GET /api/batches/{id}', { status: 200, body: shown });
    const list = await get('/api/batches?limit=100');
    const listed = (list.body.batches as Record<string, unknown>[]).find((b) => b.batchId === batchId);
    expect(listed).toMatchObject({
      status: 'retracted',
      retracted: true,
      retractionReason: 'wrong timezone',
    });

    const again = await post(`/api/batches/${batchId}/process`);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('BatchRetracted');
    expect(again.body.message).toMatch(/upload the corrected file as a new batch/);
    expectDocumented('POST /api/batches/{id}/process', again);
  });

  it('answers 404 for an unknown batch and 401 without the admin key', async () => {
    const unknown = await post('/api/batches/3f1c2a9e-7b4d-4e8a-9c1f-2d3e4f5a6b7c/retract', {});
    expect(unknown.status).toBe(404);
    expect((await post('/api/batches/not-a-batch/retract')).status).toBe(404);
    const { batchId } = await upload(csvOf(1000, 3));
    const noKey = await post(`/api/batches/${batchId}/retract`, {}, null);
    expect(noKey.status).toBe(401);
    expect((await post(`/api/batches/${batchId}/retract`, {}, 'wrong')).status).toBe(401);
    expect((await post(`/api/batches/${batchId}/retract`, { reason: 'x'.repeat(2001) })).status).toBe(400);
    expect(await stored(RAW_EVENTS_COLLECTION, batchId)).toBe(3);
  });

  it('upload, process, retract, upload the same file again: stored and counted again, exactly', async () => {
    // May holds no other test's events: its metrics are this file's alone.
    const csv = csvOf(2000, 12, '05');
    const old = await upload(csv);
    expect(old).toMatchObject({ totalEvents: 12, duplicates: 0 });
    await processed(old.batchId);
    // Without the retraction the same file is all duplicates.
    const dup = await upload(csv);
    expect(dup).toMatchObject({ totalEvents: 0, duplicates: 12 });

    expect((await post(`/api/batches/${old.batchId}/retract`, { reason: 'redo' })).status).toBe(200);
    // The clean-up runs after the answer.
    await waitFor(
      () => stored(RAW_EVENTS_COLLECTION, old.batchId),
      (n) => n === 0,
      30_000,
      'raw events of the retracted batch deleted',
    );
    await waitFor(
      async () =>
        (
          await service.runtime.mongo.db
            .collection<{ _id: string; cleanedAt?: Date }>(BATCH_RETRACTIONS_COLLECTION)
            .findOne({ _id: old.batchId })
        )?.cleanedAt,
      (at) => at instanceof Date,
      30_000,
      'retraction cleaned',
    );
    expect(await stored(RAW_EVENT_CHUNKS_COLLECTION, old.batchId)).toBe(0);
    const retraction = await service.runtime.mongo.db
      .collection<{ _id: string; cleanedAt?: Date }>(BATCH_RETRACTIONS_COLLECTION)
      .findOne({ _id: old.batchId });
    expect(retraction?.cleanedAt).toBeInstanceOf(Date);

    const again = await upload(csv);
    expect(again).toMatchObject({ totalEvents: 12, duplicates: 0 });
    expect(await stored(RAW_EVENTS_COLLECTION, again.batchId)).toBe(12);
    // A third copy meets the new batch's events: duplicates, though a retraction was cleaned just now.
    expect(await upload(csv)).toMatchObject({ totalEvents: 0, duplicates: 12 });
    await processed(again.batchId);
  });

  // Needs the projections to withdraw a retracted batch's counts (the lead's projection work).
  it('metrics after a retraction equal a recount of the remaining batches', async () => {
    const csv = csvOf(4000, 12, '06');
    const old = await upload(csv);
    await processed(old.batchId);
    expect((await post(`/api/batches/${old.batchId}/retract`, {})).status).toBe(200);
    const kept = await upload(csvOf(5000, 4, '06'));
    await processed(kept.batchId);
    await projectionsCaughtUp(service.runtime.mongo.db, service.runtime.eventLog);
    // June holds no other test's events: only the kept batch's 2 clicks and 2 views remain.
    expect(await metricsOf('2024-06-01')).toEqual({
      date: '2024-06-01',
      metrics: [{ eventType: 'click', count: 2 }],
    });
    expect(await metricsOf('2024-06-02')).toEqual({
      date: '2024-06-02',
      metrics: [{ eventType: 'view', count: 2 }],
    });
    // Unique users too: the retracted batch had all five users on both days, the kept one two each.
    const csvSeries = await fetch(
      `${service.baseUrl}/api/metrics/series?from=2024-06-01&to=2024-06-02&format=csv`,
    );
    expect((await csvSeries.text()).trim().split(/\r?\n/)).toEqual([
      'date,eventType,count,uniqueUsers',
      '2024-06-01,click,2,2',
      '2024-06-02,view,2,2',
    ]);
  });

  it('an upload that meets the events of a batch being retracted waits for its cleanup and stores them', async () => {
    const { db } = service.runtime.mongo;
    const csv = csvOf(6000, 8, '07');
    const old = await upload(csv);
    // The retraction is under way: recorded, appended, its cleanup not done yet.
    await db.collection(BATCH_RETRACTIONS_COLLECTION).insertOne({
      _id: old.batchId as unknown as never,
      reason: 'slow cleanup',
      correlationId: 'slow',
      requestedAt: new Date(),
      heartbeatAt: new Date(),
    });
    let settled = false;
    const pending = upload(csv).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(settled).toBe(false);
    await cleanUpRetraction({ db, queue: service.runtime.processingQueue, heartbeatMs: 1000 }, old.batchId);
    const again = await pending;
    expect(again).toMatchObject({ totalEvents: 8, duplicates: 0 });
    expect(await stored(RAW_EVENTS_COLLECTION, again.batchId)).toBe(8);
  });

  it('crash after recording the request: the sweep appends BatchRetracted once and cleans up', async () => {
    const { batchId } = await upload(csvOf(3000, 5));
    await service.runtime.mongo.db.collection(BATCH_RETRACTIONS_COLLECTION).insertOne({
      _id: batchId as unknown as never,
      reason: 'crashed',
      correlationId: 'crash-test',
      requestedAt: new Date(Date.now() - 10 * 60_000),
    });
    const deps = {
      db: service.runtime.mongo.db,
      eventLog: service.runtime.eventLog,
      queue: service.runtime.processingQueue,
      heartbeatMs: 1000,
      logger: service.runtime.logger,
      expiryMs: service.config.uploads.claimExpiryMs,
    };
    await sweepRetractions(deps);
    await sweepRetractions(deps);
    const records = await service.runtime.eventLog.readStream(`corrections:${batchId}`);
    expect(records.filter((r) => r.type === 'BatchRetracted')).toHaveLength(1);
    expect(records[0]?.key).toBe(batchKeys.retracted(batchId));
    expect(await stored(RAW_EVENTS_COLLECTION, batchId)).toBe(0);
    const retraction = await service.runtime.mongo.db
      .collection<{ _id: string; cleanedAt?: Date }>(BATCH_RETRACTIONS_COLLECTION)
      .findOne({ _id: batchId });
    expect(retraction?.cleanedAt).toBeInstanceOf(Date);
    const answer = await post(`/api/batches/${batchId}/retract`, {});
    expect(answer.body).toMatchObject({ alreadyRetracted: true, reason: 'crashed', eventsWithdrawn: 5 });
  });
});

describe('retracting a batch while it is processing', () => {
  let service: TestService;
  let workers: RunningWorkers | undefined;

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { EVENTS_PER_CHUNK: '2' } });
  });

  afterAll(async () => {
    await workers?.close();
    await service.stop();
  });

  it('removes its queued jobs, and a job that runs after appends nothing and does not fail the batch', async () => {
    const { runtime } = service;
    const reply = await uploadCsv(service.baseUrl, csvOf(0, 6));
    const { batchId } = reply.body as { batchId: string };
    const headers = { 'Content-Type': 'application/json', 'X-API-Key': TEST_ADMIN_KEY };
    const process = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    expect(process.status).toBe(202);
    expect(await runtime.processingQueue.getJob(chunkJobId(batchId, 0))).toBeDefined();

    const res = await fetch(`${service.baseUrl}/api/batches/${batchId}/retract`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ reason: 'stop it' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ eventsWithdrawn: 6, countedEventsWithdrawn: 0, days: [] });
    // The clean-up runs after the answer.
    await waitFor(
      async () => {
        const jobs = await Promise.all(
          [0, 1, 2].map((chunk) => runtime.processingQueue.getJob(chunkJobId(batchId, chunk))),
        );
        return jobs.filter((job) => job !== undefined).length;
      },
      (left) => left === 0,
      30_000,
      'the queued jobs removed',
    );

    // A process call that passed its check just before the retraction adds a job after the cleanup.
    await runtime.processingQueue.add(
      'chunk',
      { batchId, chunk: 1, round: 1, correlationId: 'late' },
      { ...chunkJobOptions, jobId: chunkJobId(batchId, 1) },
    );
    workers = runWorkers(runtime);
    await waitFor(
      async () => await runtime.processingQueue.getJobCounts('waiting', 'active', 'failed', 'delayed'),
      (c) => Object.values(c).every((n) => n === 0),
      30_000,
      'the late job to complete',
    );
    const records = await runtime.eventLog.readStream(`batch:${batchId}`);
    expect(records.filter((r) => r.type === 'EventsProcessed')).toEqual([]);
    expect(records.filter((r) => r.type === 'BatchProcessingFailed')).toEqual([]);
    const status = await waitFor(
      () => batchStatusOf(service.baseUrl, batchId),
      (s) => s === 'retracted',
      30_000,
      'batch shown retracted',
    );
    expect(status).toBe('retracted');
    const retry = await fetch(`${service.baseUrl}/api/queues/event-processing/dlq/retry`, {
      method: 'POST',
      headers,
    });
    expect(await retry.json()).toMatchObject({ retried: 0 });
  });
});
