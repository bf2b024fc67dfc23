import { tryAcquireLease, type ProjectorLease } from '../../src/projections/lease';
import { leaseName } from '../../src/projections/projector';
import { startTestService, type TestService } from '../support/testService';
import { uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * `completed` means the metrics hold the batch: while a read model is behind (its projector's lease
 * held here, as another writer stuck mid-page would), the batch reads `processing` and says which.
 */

type Batch = Record<string, unknown>;

describe('a batch completes only when every read model holds it', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ env: { EVENTS_PER_CHUNK: '2' } });
  });
  afterAll(async () => {
    await service.stop();
  });

  const get = async (path: string): Promise<unknown> => (await fetch(`${service.baseUrl}${path}`)).json();
  const batch = async (batchId: string) => (await get(`/api/batches/${batchId}`)) as Batch;
  const listed = async (batchId: string) =>
    ((await get('/api/batches')) as { batches: Batch[] }).batches.find((b) => b['batchId'] === batchId);
  /** Click events over both days, from the series read model (the one held back). */
  const seriesClicks = async (): Promise<unknown> => {
    const answer = (await get('/api/metrics/series?from=2024-03-01&to=2024-03-02')) as {
      totals: { eventType: string; count: number }[];
    };
    return answer.totals.find((t) => t.eventType === 'click')?.count ?? 0;
  };

  it('reads processing with catchingUp while the series projection is held, then completed with the counts', async () => {
    const held: ProjectorLease = await waitFor(
      async () =>
        (await tryAcquireLease(
          service.runtime.redis,
          service.config.redis.prefix,
          leaseName('metricSeries'),
        )) ?? null,
      (lease) => lease !== null,
      30_000,
      'the metricSeries lease',
    ).then((lease) => lease as ProjectorLease);
    let released = false;
    try {
      const csv =
        'userId,eventType,timestamp\n' +
        'u1,click,2024-03-01T10:00:00Z\nu2,click,2024-03-01T11:00:00Z\nu3,click,2024-03-02T09:00:00Z\n';
      const reply = await uploadCsv(service.baseUrl, csv, { fileName: 'held.csv' });
      expect(reply.status).toBe(201);
      const batchId = String(reply.body.batchId);
      const processed = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
      expect(processed.status).toBe(202);

      // Every event counted, daily metrics caught up, the series held back.
      const waiting = await waitFor(
        () => batch(batchId),
        (b) => b['processedEvents'] === 3 && JSON.stringify(b['catchingUp']) === '["metricSeries"]',
        60_000,
        'the batch counted, with the series catching up',
      );
      expect(waiting).toMatchObject({ status: 'processing', processedAt: null, progress: 100 });
      expect(await listed(batchId)).toMatchObject({ status: 'processing', catchingUp: ['metricSeries'] });
      expect(await seriesClicks()).toBe(0);
      // Still so a moment later: nothing but the held projection can change it.
      await new Promise((r) => setTimeout(r, 1000));
      expect(await batch(batchId)).toMatchObject({ status: 'processing', catchingUp: ['metricSeries'] });

      await held.release();
      released = true;
      const done = await waitFor(
        () => batch(batchId),
        (b) => b['status'] === 'completed',
        60_000,
        'the batch completed',
      );
      expect(done['catchingUp']).toBeUndefined();
      expect(typeof done['processedAt']).toBe('string');
      expect(await listed(batchId)).toMatchObject({ status: 'completed' });
      expect(await seriesClicks()).toBe(3);
    } finally {
      if (!released) await held.release();
    }
  });
});
