import { runWorkers } from '../../src/compose';
import type { RunningWorkers } from '../../src/workers/startWorkers';
import { startPrivateRedis, type PrivateServer } from '../support/privateServers';
import { liveMetrics, projectionsCaughtUp, recountRows, sorted } from '../support/recount';
import { startTestService, type TestService } from '../support/testService';
import { uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * Redis keeps nothing on disk here and is killed after the process call: the queue forgets every
 * chunk job while the log says the batch is processing. The workers' sweep must enqueue them again.
 */
describe('a batch whose chunk jobs Redis lost', () => {
  let redis: PrivateServer;
  let service: TestService;
  let workers: RunningWorkers | undefined;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    service = await startTestService({
      workers: false,
      env: {
        REDIS_URL: redis.url,
        EVENTS_PER_CHUNK: '7',
        PROCESSING_SWEEP_MS: '300',
      },
    });
  });
  afterAll(async () => {
    await workers?.close();
    await service.stop();
    await redis.destroy();
  });

  it('is completed with exact counts after the sweep enqueues its chunks again', async () => {
    const rows = Array.from({ length: 60 }, (_, i) => ({
      userId: `u${i}`,
      eventType: i % 3 === 0 ? 'purchase' : 'view',
      timestamp: new Date(Date.UTC(2024, 2, 1 + (i % 4), 9, i)),
    }));
    const csv = [
      'userId,eventType,timestamp',
      ...rows.map((r) => `${r.userId},${r.eventType},${r.timestamp.toISOString()}`),
    ].join('\n');
    const uploaded = await uploadCsv(service.baseUrl, csv);
    expect(uploaded.status).toBe(201);
    const batchId = uploaded.body.batchId as string;
    const processed = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    expect(processed.status).toBe(202);

    // No worker ran yet: all nine chunk jobs sit in Redis, which now dies and comes back empty.
    await redis.stop();
    await redis.start();
    workers = runWorkers(service.runtime);

    const batch = await waitFor(
      async () =>
        (await (await fetch(`${service.baseUrl}/api/batches/${batchId}`)).json()) as Record<string, unknown>,
      (b) => b.status === 'completed',
      60_000,
      'the batch to complete after its jobs were lost',
    );
    expect(batch).toMatchObject({ totalEvents: 60, processedEvents: 60 });
    await projectionsCaughtUp(service.runtime.mongo.db, service.runtime.eventLog);
    expect(sorted(await liveMetrics(service.runtime.mongo.db))).toEqual(sorted(recountRows(rows)));
  }, 90_000);
});
