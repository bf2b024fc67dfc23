import { startPrivateFerretDb, type PrivateServer } from '../support/privateServers';
import { projectionsCaughtUp } from '../support/recount';
import { seedBatch, type SeedRow } from '../support/seedBatch';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';
import { batchStatusOf } from '../support/uploads';

describe('a batch of 25,000 events', () => {
  let ferret: PrivateServer;
  let service: TestService;

  // A FerretDB of its own: this much writing would slow every other test file sharing the stack's one.
  beforeAll(async () => {
    ferret = await startPrivateFerretDb();
    service = await startTestService({
      // 50 chunk jobs: more only slows the test on FerretDB's SQLite backend, which answers every
      // lookup of a log position with a scan of the log, so each chunk costs more than the last.
      env: { MONGODB_URI: ferret.url, EVENTS_PER_CHUNK: '500' },
    });
  });

  afterAll(async () => {
    await service.stop();
    await ferret.destroy();
  });

  it('is fully enqueued by one call (no cap) and counted exactly once', async () => {
    const types = ['signup', 'login', 'purchase', 'logout', 'view'];
    const rows: SeedRow[] = Array.from({ length: 25_000 }, (_, i) => ({
      userId: `user${i % 997}`,
      eventType: types[i % types.length] ?? 'view',
      timestamp: new Date(Date.UTC(2024, 0, 1 + (i % 3), 0, 0, 0, i)),
    }));
    const { batchId, newEvents } = await seedBatch(service.runtime, rows);
    expect(newEvents).toBe(25_000);

    const res = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ batchId, jobsEnqueued: 50 });

    await waitFor(
      () => batchStatusOf(service.baseUrl, batchId),
      (s) => s === 'completed',
      240_000,
      'the 25,000-event batch to complete',
    );
    // Batch status and metrics are separate projections: wait until both have read the whole log.
    await projectionsCaughtUp(service.runtime.mongo.db, service.runtime.eventLog);
    let total = 0;
    for (const date of ['2024-01-01', '2024-01-02', '2024-01-03']) {
      const body = (await (await fetch(`${service.baseUrl}/api/metrics?date=${date}`)).json()) as {
        metrics: { eventType: string; count: number }[];
      };
      expect(body.metrics.map((m) => m.eventType)).toEqual([...types].sort());
      total += body.metrics.reduce((sum, m) => sum + m.count, 0);
    }
    expect(total).toBe(25_000);
  }, 300_000);
});
