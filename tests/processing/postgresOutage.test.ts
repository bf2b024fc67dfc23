import { setTimeout as sleep } from 'node:timers/promises';
import { runWorkers } from '../../src/compose';
import { verifyReadModels } from '../../src/projections/verify';
import type { RunningWorkers } from '../../src/workers/startWorkers';
import { startPrivatePostgresStack } from '../support/privateServers';
import { liveBatches, liveMetrics, projectionsCaughtUp, recountRows, sorted } from '../support/recount';
import { seedBatch, type SeedRow } from '../support/seedBatch';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

/**
 * With its PostgreSQL down, FerretDB answers every command at once with a server error, so chunk
 * jobs used to spend their three attempts within seconds and the batch failed. An outage only
 * delays the batch: the jobs wait for the database without spending attempts.
 */
describe('a PostgreSQL outage during processing', () => {
  let stack: Awaited<ReturnType<typeof startPrivatePostgresStack>>;
  let service: TestService;
  let workers: RunningWorkers | undefined;

  beforeAll(async () => {
    stack = await startPrivatePostgresStack();
    service = await startTestService({
      env: { MONGODB_URI: stack.mongoUri, EVENTS_PER_CHUNK: '10', WORKER_CONCURRENCY: '4' },
      workers: false,
    });
  }, 120_000);

  afterAll(async () => {
    await workers?.close();
    await service.stop();
    await stack.destroy();
  }, 60_000);

  it('delays the batch, which then completes with exact metrics', async () => {
    const rows: SeedRow[] = Array.from({ length: 200 }, (_, i) => ({
      userId: `p${i % 23}`,
      eventType: ['view', 'click'][i % 2] ?? 'view',
      timestamp: new Date(Date.UTC(2024, 4, 1 + (i % 5), i % 24, i % 60)),
    }));
    const { batchId } = await seedBatch(service.runtime, rows);
    const started = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    expect(started.status).toBe(202);

    await stack.stopPostgres();
    workers = runWorkers(service.runtime);
    const queue = service.runtime.processingQueue;
    // The jobs meet the outage: each has been tried and put back (to wait or to fail).
    await waitFor(
      () => queue.getJobCounts('delayed', 'failed'),
      (counts) => (counts.delayed ?? 0) + (counts.failed ?? 0) > 0,
      60_000,
      'chunk jobs to meet the outage',
    );
    // The outage goes on well past the few seconds that three attempts used to last.
    await sleep(8000);
    await stack.startPostgres();

    const { db } = service.runtime.mongo;
    const batches = await waitFor(
      () => liveBatches(db).catch(() => []),
      (docs) => docs.some((d) => d._id === batchId && (d.status === 'completed' || d.status === 'failed')),
      240_000,
      'the batch to end',
    );
    const batch = batches.find((d) => d._id === batchId);
    expect({ status: batch?.status, failedReason: batch?.failedReason ?? null }).toEqual({
      status: 'completed',
      failedReason: null,
    });
    expect(await queue.getJobCounts('failed')).toEqual({ failed: 0 });
    await projectionsCaughtUp(db, service.runtime.eventLog);
    expect(sorted(await liveMetrics(db))).toEqual(sorted(recountRows(rows)));
    expect(await verifyReadModels(db, service.runtime.eventLog)).toEqual([]);
  }, 400_000);

  it('fails the batch, saying why, once the outage outlasts PROCESSING_OUTAGE_WAIT_MS', async () => {
    await workers?.close();
    workers = undefined;
    const rows: SeedRow[] = Array.from({ length: 30 }, (_, i) => ({
      userId: `q${i % 7}`,
      eventType: 'view',
      timestamp: new Date(Date.UTC(2024, 5, 1 + (i % 3), i % 24)),
    }));
    const { batchId } = await seedBatch(service.runtime, rows);
    const started = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    expect(started.status).toBe(202);

    await stack.stopPostgres();
    const { runtime } = service;
    const processing = { ...runtime.config.processing, outageWaitMs: 2000 };
    workers = runWorkers({ ...runtime, config: { ...runtime.config, processing } });
    const queue = runtime.processingQueue;
    const [failed] = await waitFor(
      () => queue.getFailed(),
      (jobs) => jobs.length > 0,
      120_000,
      'a chunk job to give up waiting',
    );
    await stack.startPostgres();
    expect(failed?.failedReason).toMatch(
      /^the database stayed unreachable for more than 2 s .*connection refused/s,
    );
    // Given up on, not retried: its attempts were never spent.
    expect(failed?.attemptsMade).toBeLessThanOrEqual(1);

    const batches = await waitFor(
      () => liveBatches(runtime.mongo.db).catch(() => []),
      (docs) => docs.some((d) => d._id === batchId && d.status === 'failed'),
      120_000,
      'the batch to be failed',
    );
    expect(batches.find((d) => d._id === batchId)?.failedReason).toMatch(/dead-letter queue/);
  }, 400_000);
});
