import { randomUUID } from 'node:crypto';
import { BatchClaims } from '../../src/commands/uploadBatch/batchClaims';
import { sweepClaims } from '../../src/commands/uploadBatch/claimSweep';
import { runWorkers } from '../../src/compose';
import { runSql } from '../../dev/postgres';
import { ferretDbTableName } from '../../src/mongo';
import type { RunningWorkers } from '../../src/workers/startWorkers';
import { startPrivateFerretDb, type PrivateServer } from '../support/privateServers';
import { startTestService, type TestService } from '../support/testService';
import { batchStatusOf, csvOfRows, rawEvents, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * FerretDB v1.24.2 on PostgreSQL pushes a filter down as `_jsonb->'field' @> value`, which its own
 * btree indexes cannot serve; the stack's PostgreSQL twins each of them with a GIN index that can
 * (dev/equalityIndexes.ts). This test counts PostgreSQL's sequential scans of the raw-events table:
 * none for uploads, re-uploads, processing and metrics, and none when an abandoned upload is
 * collected (its `deleteMany({batchId})` reads the batch's rows through the index, not the table).
 */
describe('large tables are never scanned on the hot paths', () => {
  let ferret: PrivateServer & { postgresDatabase: string };
  let service: TestService;
  let workers: RunningWorkers | undefined;
  const pgPort = Number(process.env.TEST_POSTGRES_PORT);

  beforeAll(async () => {
    ferret = await startPrivateFerretDb();
    service = await startTestService({
      workers: false,
      // No background sweep: the collection test counts the scans of the one it runs itself.
      env: { MONGODB_URI: ferret.url, EVENTS_PER_CHUNK: '500', UPLOAD_CLAIM_SWEEP_MS: '3600000' },
    });
  });
  afterAll(async () => {
    await workers?.close();
    await service.stop();
    await ferret.destroy();
  });

  /**
   * Sequential scans of the raw-events table so far. A PostgreSQL backend publishes its counts
   * lazily (at most once a second, or after 10 s idle) but always when it exits: so FerretDB is
   * stopped for the reading, which ends its connections, and started again.
   */
  async function seqScans(collection = 'raw_events'): Promise<number> {
    const sql = (q: string) => runSql(pgPort, q, ferret.postgresDatabase).trim();
    await ferret.stop();
    await waitFor(
      () =>
        Promise.resolve(
          Number(
            sql(
              `SELECT count(*) FROM pg_stat_activity WHERE datname = '${ferret.postgresDatabase}' AND pid <> pg_backend_pid()`,
            ),
          ),
        ),
      (n) => n === 0,
      30_000,
      "FerretDB's connections to end",
    );
    const table = ferretDbTableName(collection);
    const schema = service.runtime.mongo.db.databaseName;
    const count = Number(
      sql(`SELECT seq_scan FROM pg_stat_user_tables WHERE schemaname = '${schema}' AND relname = '${table}'`),
    );
    await ferret.start();
    await waitFor(
      async () => (await fetch(`${service.baseUrl}/health`)).status,
      (s) => s === 200,
      60_000,
      'the service to reach FerretDB again',
    );
    return count;
  }
  async function processToCompletion(batchId: string): Promise<void> {
    await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    await waitFor(
      () => batchStatusOf(service.baseUrl, batchId),
      (s) => s === 'completed',
      60_000,
      'the batch to complete',
    );
  }

  it('stores, re-stores, processes and reads metrics without one', async () => {
    const before = await seqScans();
    const first = await uploadCsv(service.baseUrl, csvOfRows(3000));
    expect(first.body).toMatchObject({ totalEvents: 3000 });
    const again = await uploadCsv(service.baseUrl, csvOfRows(3000));
    expect(again.body).toMatchObject({ totalEvents: 0, duplicates: 3000 });
    const overlapping = await uploadCsv(service.baseUrl, csvOfRows(3000, 1500));
    expect(overlapping.body).toMatchObject({ totalEvents: 1500 });

    workers = runWorkers(service.runtime);
    for (const reply of [first, overlapping]) await processToCompletion(reply.body.batchId as string);
    expect((await fetch(`${service.baseUrl}/api/metrics?date=2024-01-15`)).status).toBe(200);
    expect(await seqScans()).toBe(before);
  }, 120_000);

  it('reads chunks and series months by index: a chunk job, a projector page, a question for some types', async () => {
    const series = 'metric_series_v1';
    const before = { chunks: await seqScans('raw_event_chunks_v2'), series: await seqScans(series) };
    const reply = await uploadCsv(service.baseUrl, csvOfRows(2000, 10_000));
    await processToCompletion(reply.body.batchId as string);
    const query = '/api/metrics/series?from=2024-01-01&to=2024-12-31&interval=month&eventType=click';
    expect((await fetch(`${service.baseUrl}${query}`)).status).toBe(200);
    // A chunk is read by `_id`, a page reads the months of a year by `year`, and the question reads
    // its types' shard by `yearShard`: each through an index, never the whole table.
    expect(await seqScans('raw_event_chunks_v2')).toBe(before.chunks);
    expect(await seqScans(series)).toBe(before.series);
  }, 120_000);

  it('collects an abandoned upload without one', async () => {
    const db = service.runtime.mongo.db;
    const batchId = randomUUID();
    const docs = Array.from({ length: 120 }, (_, i) => ({
      _id: `collect-${batchId}-${i}`,
      batchId,
      insertGroup: 0,
      userId: 'u',
      eventType: 'e',
      timestamp: new Date(Date.UTC(2024, 0, 1)),
      metadata: {},
    }));
    // Other events beside them, as in any real table: on a table of a few rows PostgreSQL's planner
    // takes a sequential scan even for the delete by _id that follows FerretDB's filtered scan.
    const others = Array.from({ length: 5000 }, (_, i) => ({
      _id: `other-${batchId}-${i}`,
      batchId: 'kept',
      insertGroup: 0,
      userId: 'u',
      eventType: 'e',
      timestamp: new Date(Date.UTC(2024, 0, 1)),
      metadata: {},
    }));
    await rawEvents(db).insertMany([...docs, ...others]);
    const claims = new BatchClaims(db);
    await claims.open({
      _id: batchId,
      holder: 'gone',
      fileName: 'x.csv',
      totalRows: 120,
      eventsPerChunk: 500,
      correlationId: 'c',
    });
    // Its holder stopped: the sweep declares it abandoned and collects it as its one collector.
    await new Promise((r) => setTimeout(r, 50));
    const before = await seqScans();
    const { eventLog, logger, config } = service.runtime;
    await sweepClaims({
      db,
      claims,
      eventLog,
      logger,
      fingerprintOf: service.runtime.userFingerprint,
      instanceName: config.uploads.instanceName,
      startedAt: Date.now(),
      expiryMs: 10,
    });
    // The batch's rows found through the index, none of the 5,000 others read.
    expect((await seqScans()) - before).toBe(0);
    expect(await rawEvents(db).countDocuments({ batchId })).toBe(0);
    expect(await rawEvents(db).countDocuments({ batchId: 'kept' })).toBe(5000);
  }, 60_000);
});
