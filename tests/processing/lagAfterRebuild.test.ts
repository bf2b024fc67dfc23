import { allProjections } from '../../src/projections/allProjections';
import { rebuildProjections } from '../../src/projections/rebuild';
import { projectionsCaughtUp } from '../support/recount';
import { seedBatch } from '../support/seedBatch';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';
import { batchStatusOf } from '../support/uploads';

interface HealthBody {
  status: string;
  checks: { projections: string };
  projections: { projection: string; lag: number }[];
}

/** A rebuild retires the versions it replaced: their frozen checkpoints must not count as lag. */
describe('projection lag after a rebuild', () => {
  let service: TestService;

  beforeAll(async () => {
    // Any lag at all, for any time at all, is reported: a retired version's lag would show at once.
    service = await startTestService({
      env: {
        EVENTS_PER_CHUNK: '2',
        PROJECTION_LAG_MAX_RECORDS: '0',
        PROJECTION_LAG_MAX_SECONDS: '0',
      },
    });
  });

  afterAll(async () => {
    await service.stop();
  });

  async function uploadAndProcess(label: string): Promise<void> {
    const { db } = service.runtime.mongo;
    const rows = Array.from({ length: 5 }, (_, i) => ({
      userId: `${label}${i}`,
      eventType: label,
      timestamp: new Date(Date.UTC(2024, 4, 1, i)),
    }));
    const { batchId } = await seedBatch(service.runtime, rows);
    const processed = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    expect(processed.status).toBe(202);
    await waitFor(
      () => batchStatusOf(service.baseUrl, batchId),
      (status) => status === 'completed',
      60_000,
      `batch ${label} completed`,
    );
    await projectionsCaughtUp(db, service.runtime.eventLog);
  }

  const health = async (): Promise<HealthBody> =>
    (await (await fetch(`${service.baseUrl}/health`)).json()) as HealthBody;

  it('reports only the live versions in /health and ems_projection_lag_records', async () => {
    await uploadAndProcess('before');
    const { mongo, eventLog, redis, config, logger } = service.runtime;
    const deps = { db: mongo.db, eventLog, redis, prefix: config.redis.prefix, logger };
    const results = await rebuildProjections(deps, allProjections());
    expect(results.map((r) => [r.projection, r.from, r.to])).toEqual([
      ['dailyMetrics', 1, 2],
      ['batchStatus', 1, 2],
      ['metricSeries', 1, 2],
    ]);
    // Records after the rebuild move the head past the retired versions' checkpoints.
    await uploadAndProcess('after');

    const first = await health();
    await new Promise((r) => setTimeout(r, 50));
    const second = await health();
    for (const body of [first, second]) {
      expect(body.projections.map((p) => p.projection).sort()).toEqual([
        'batchStatus_v2',
        'dailyMetrics_v2',
        'metricSeries_v2',
      ]);
      expect(body).toMatchObject({ status: 'ok', checks: { projections: 'ok' } });
    }
    const metrics = await (await fetch(`${service.baseUrl}/metrics`)).text();
    const series = [...metrics.matchAll(/^ems_projection_lag_records\{projection="([^"]+)"\} (\S+)$/gm)];
    expect(series.map(([, name, value]) => [name, Number(value)]).sort()).toEqual([
      ['batchStatus_v2', 0],
      ['dailyMetrics_v2', 0],
      ['metricSeries_v2', 0],
    ]);
  }, 120_000);
});
