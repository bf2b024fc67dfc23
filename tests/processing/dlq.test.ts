import { runWorkers } from '../../src/compose';
import type { RunningWorkers } from '../../src/workers/startWorkers';
import { expectDocumented } from '../support/openapi';
import { damageChunk } from '../support/damageChunk';
import { seedBatch, type SeedRow } from '../support/seedBatch';
import { TEST_ADMIN_KEY } from '../support/testConfig';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

interface FailedJobBody {
  id: string;
  data: { batchId: string; chunk: number };
  error: string;
  failedReason: string;
  timestamp: number;
  attemptsMade: number;
}

describe('the dead-letter queue', () => {
  let service: TestService;
  let workers: RunningWorkers | undefined;

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      env: { EVENTS_PER_CHUNK: '4' },
    });
  });

  afterAll(async () => {
    await workers?.close();
    await service.stop();
  });

  const call = async (method: string, path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${service.baseUrl}${path}`, { method, headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const admin = { 'X-API-Key': TEST_ADMIN_KEY };

  it('rejects a missing or wrong key, and a key in the query string, with 401', async () => {
    for (const method of ['GET', 'POST']) {
      const path =
        method === 'GET' ? '/api/queues/event-processing/dlq' : '/api/queues/event-processing/dlq/retry';
      expect((await call(method, path)).status).toBe(401);
      expect((await call(method, path, { 'X-API-Key': 'wrong-key-wrong-key' })).status).toBe(401);
      expect((await call(method, path, { 'X-API-Key': `${TEST_ADMIN_KEY}x` })).status).toBe(401);
      const inQuery = await call(method, `${path}?apiKey=${TEST_ADMIN_KEY}&api_key=${TEST_ADMIN_KEY}`);
      expect(inQuery.status).toBe(401);
      expect(inQuery.body).toMatchObject({ error: 'Unauthorized' });
      expectDocumented(`${method} ${path.replace('event-processing', '{name}')}`, inQuery);
      // The key is checked before anything else: a bad queue name without a key is still 401.
      expect((await call(method, path.replace('event-processing', 'other'))).status).toBe(401);
    }
  });

  it('answers 400 for any queue but event-processing, and for a bad limit', async () => {
    const replies = {
      'GET /api/queues/{name}/dlq': [
        await call('GET', '/api/queues/projections/dlq', admin),
        await call('GET', '/api/queues/event-processing/dlq?limit=0', admin),
        await call('GET', '/api/queues/event-processing/dlq?limit=1001', admin),
      ],
      'POST /api/queues/{name}/dlq/retry': [await call('POST', '/api/queues/other/dlq/retry', admin)],
    };
    for (const [route, list] of Object.entries(replies)) {
      for (const reply of list) {
        expect(reply.status).toBe(400);
        expectDocumented(route, reply);
      }
    }
    const empty = await call('GET', '/api/queues/event-processing/dlq', admin);
    expect(empty).toEqual({ status: 200, body: { queueName: 'event-processing', failedJobs: [] } });
    expectDocumented('GET /api/queues/{name}/dlq', empty);
  });

  it('keeps a chunk with a malformed raw event in the DLQ, marks the batch failed, and retry brings it back', async () => {
    const { db } = service.runtime.mongo;
    const rows: SeedRow[] = Array.from({ length: 10 }, (_, i) => ({
      userId: `d${i}`,
      eventType: i % 2 === 0 ? 'even' : 'odd',
      timestamp: new Date(Date.UTC(2024, 6, 1, 12, i)),
    }));
    const { batchId } = await seedBatch(service.runtime, rows);
    const processed = await call('POST', `/api/batches/${batchId}/process`);
    expect(processed).toMatchObject({ status: 202, body: { jobsEnqueued: 3 } });
    // Corrupt one event of chunk 1 before any worker runs: its job genuinely cannot succeed.
    const repair = await damageChunk(db, batchId, 1);

    workers = runWorkers(service.runtime);

    const dlq = await waitFor(
      async () => (await call('GET', '/api/queues/event-processing/dlq?limit=10', admin)).body,
      (b) => (b.failedJobs as unknown[]).length === 1,
    );
    const [job] = dlq.failedJobs as FailedJobBody[];
    expect(job).toMatchObject({ id: `chunk_${batchId}_1`, data: { batchId, chunk: 1 } });
    expect(job?.failedReason).toMatch(/malformed raw event/);
    expect(job?.error).toMatch(/malformed/);
    expect(job?.attemptsMade).toBeGreaterThanOrEqual(1);
    expectDocumented('GET /api/queues/{name}/dlq', { status: 200, body: dlq });

    const failed = await waitFor(
      async () => (await call('GET', `/api/batches/${batchId}`)).body,
      (b) => b.status === 'failed' && b.processedEvents === 6,
    );
    // What went wrong inside is for operators (the DLQ above, the log record, the logs), not the public.
    expect(failed.failedReason).toBe(
      'Chunk 1 of this batch could not be processed; an operator can see why in the dead-letter queue ' +
        '(GET /api/queues/event-processing/dlq). Process the batch again once the cause is fixed.',
    );
    expectDocumented('GET /api/batches/{id}', { status: 200, body: failed });
    // The list reads the batch-status read model, which may trail the answer above (GET of one
    // batch falls back to the log): wait until it lists the failure too.
    const inList = await waitFor(
      async () =>
        (
          (await call('GET', '/api/batches')).body.batches as {
            batchId: string;
            status: string;
            failedReason: unknown;
          }[]
        ).find((b) => b.batchId === batchId),
      (b) => b?.status === 'failed',
    );
    expect(inList?.failedReason).toBe(failed.failedReason);
    const records = await service.runtime.eventLog.readStream(`batch:${batchId}`);
    const failure = records.find((r) => r.type === 'BatchProcessingFailed');
    expect(failure?.data).toMatchObject({
      chunk: 1,
      reason: expect.stringMatching(/malformed raw event/) as string,
    });

    await repair();
    const retried = await call('POST', '/api/queues/event-processing/dlq/retry', admin);
    expect(retried).toEqual({ status: 200, body: { queueName: 'event-processing', retried: 1 } });
    expectDocumented('POST /api/queues/{name}/dlq/retry', retried);

    const done = await waitFor(
      async () => (await call('GET', `/api/batches/${batchId}`)).body,
      (b) => b.status === 'completed',
    );
    expect(done).toMatchObject({ processedEvents: 10, failedReason: null, progress: 100 });
    expect((await call('GET', '/api/queues/event-processing/dlq', admin)).body.failedJobs).toEqual([]);
    const metrics = await waitFor(
      async () => (await call('GET', '/api/metrics?date=2024-07-01')).body,
      (b) => JSON.stringify(b).includes('"count":5'),
    );
    expect(metrics).toEqual({
      date: '2024-07-01',
      metrics: [
        { eventType: 'even', count: 5 },
        { eventType: 'odd', count: 5 },
      ],
    });
  });
});
