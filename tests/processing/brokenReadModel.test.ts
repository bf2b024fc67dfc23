import { runWorkers } from '../../src/compose';
import { runSql } from '../../dev/postgres';
import { ferretDbTableName } from '../../src/mongo';
import { dailyMetricsProjection } from '../../src/projections/dailyMetrics';
import { createProjector } from '../../src/projections/projector';
import { liveVersion } from '../../src/projections/readModels';
import type { RunningWorkers } from '../../src/workers/startWorkers';
import { liveMetrics, projectionsCaughtUp, recountRows, sorted } from '../support/recount';
import { startTestService, type TestService } from '../support/testService';
import { uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * FerretDB creates a collection in two writes (the PostgreSQL table, then its catalogue entry); a
 * server killed in between leaves a table that its catalogue does not list, and every later write
 * to that collection fails with "relation ... already exists (SQLSTATE 42P07)". Planted here in
 * exactly that shape for the daily-metrics read model: the projector must say so on /health and
 * get past it by itself (a rebuild into a fresh version), with exact counts.
 */
describe('a read-model collection that FerretDB left half-created', () => {
  let service: TestService;
  let workers: RunningWorkers | undefined;

  beforeAll(async () => {
    service = await startTestService({ workers: false });
  });
  afterAll(async () => {
    await workers?.close();
    await service.stop();
  });

  it('is reported on /health and rebuilt into a fresh version with exact metrics', async () => {
    const db = service.runtime.mongo.db;
    expect(await liveVersion(db, 'dailyMetrics')).toBe(1);
    // The database (a PostgreSQL schema) exists since start-up created the core collections.
    const table = ferretDbTableName('daily_metrics_v1');
    runSql(
      Number(process.env.TEST_POSTGRES_PORT),
      `CREATE TABLE "${db.databaseName}"."${table}" (_jsonb jsonb)`,
    );

    const rows = Array.from({ length: 30 }, (_, i) => ({
      userId: `u${i}`,
      eventType: i % 2 === 0 ? 'click' : 'purchase',
      timestamp: new Date(Date.UTC(2024, 0, 10 + (i % 3), 8, i)),
    }));
    const csv = [
      'userId,eventType,timestamp',
      ...rows.map((r) => `${r.userId},${r.eventType},${r.timestamp.toISOString()}`),
    ].join('\n');
    const { body } = await uploadCsv(service.baseUrl, csv);
    const batchId = body.batchId as string;
    await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });

    // A projector that cannot get past it (no recovery given) keeps failing, and /health says why.
    const stuck = createProjector(
      {
        db,
        eventLog: service.runtime.eventLog,
        redis: service.runtime.redis,
        prefix: service.config.redis.prefix,
        logger: service.runtime.logger,
      },
      dailyMetricsProjection,
    );
    const reported = await waitFor(
      async () => {
        await expect(stuck()).rejects.toThrow(/half-created/);
        const res = await fetch(`${service.baseUrl}/health`);
        return (await res.json()) as { status: string; checks: Record<string, string>; problems: string[] };
      },
      (h) => h.checks.projections === 'failing',
      30_000,
      '/health to report the failing projection',
    );
    expect(reported.status).toBe('degraded');
    expect(reported.problems.join('\n')).toMatch(
      /projection dailyMetrics: \d+ catch-up\(s\) failed since .*DROP TABLE/,
    );

    // The workers' projector rebuilds the read model into a fresh version by itself.
    workers = runWorkers(service.runtime);
    const healthy = await waitFor(
      async () => ({
        status: ((await (await fetch(`${service.baseUrl}/health`)).json()) as { status: string }).status,
        version: await liveVersion(db, 'dailyMetrics'),
      }),
      (s) => s.version > 1 && s.status === 'ok',
      90_000,
      'the projector to rebuild past the broken collection',
    );
    expect(healthy.version).toBe(2);

    await projectionsCaughtUp(db, service.runtime.eventLog);
    expect(sorted(await liveMetrics(db))).toEqual(sorted(recountRows(rows)));
    const batch = (await (await fetch(`${service.baseUrl}/api/batches/${batchId}`)).json()) as Record<
      string,
      unknown
    >;
    expect(batch).toMatchObject({ status: 'completed', processedEvents: 30 });
  }, 120_000);
});
