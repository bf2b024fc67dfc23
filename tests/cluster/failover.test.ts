import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequeueLostChunks } from '../../src/workers/requeueLostChunks';
import { buildProjectors } from '../../src/compose';
import { readChunk } from '../../src/events/readChunks';
import { startRedisCluster, type RunningRedisCluster } from '../../dev/redisCluster';
import { createRedis } from '../../src/redis';
import { createProcessChunk, type ProcessChunk } from '../../src/workers/processChunk';
import { startWorkers, type RunningWorkers } from '../../src/workers/startWorkers';
import { verifyReadModels } from '../../src/projections/verify';
import { readStamps } from '../../src/projections/readModelStamps';
import { liveBatches, liveMetrics, projectionsCaughtUp, recountRows, sorted } from '../support/recount';
import { seedBatch, type SeedRow } from '../support/seedBatch';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

/** Chunks processed before the worker holds its next one while the master is killed. */
const HOLD_AFTER = 10;

/**
 * A Redis Cluster of its own (3 masters, a replica each), so killing a master disturbs no other
 * test file: the master that holds the queues is SIGKILLed (its whole process group) while a batch
 * is being processed (after HOLD_AFTER chunks, with the next one held active by the real worker and
 * the rest waiting in the queue); its replica takes over, and the batch still completes with exact
 * counts.
 */
describe('Redis Cluster master failover mid-processing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ems-cluster-failover-'));
  let cluster: RunningRedisCluster | undefined;
  let service: TestService | undefined;
  let workers: RunningWorkers | undefined;
  let processed = 0;
  let reachedHold: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    reachedHold = resolve;
  });
  let releaseHold: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    releaseHold = resolve;
  });

  beforeAll(async () => {
    cluster = await startRedisCluster({ dir, nodeTimeoutMs: 2000 });
    service = await startTestService({
      env: {
        REDIS_CLUSTER_NODES: cluster.nodesSetting,
        EVENTS_PER_CHUNK: '5',
        WORKER_CONCURRENCY: '1',
        PROCESSING_SWEEP_MS: '2000',
      },
      workers: false,
    });
    // The real workers (as runWorkers wires them), with the chunk handler counting and holding.
    const { runtime } = service;
    const { db } = runtime.mongo;
    const inner = createProcessChunk({
      eventLog: runtime.eventLog,
      readChunk: (batchId, chunk) => readChunk(db, batchId, chunk),
      logger: runtime.logger,
    });
    const processChunk: ProcessChunk = async (data) => {
      const outcome = await inner(data);
      processed += 1;
      if (processed === HOLD_AFTER + 1) {
        reachedHold();
        await released;
      }
      return outcome;
    };
    workers = startWorkers({
      config: runtime.config,
      logger: runtime.logger,
      connection: createRedis(runtime.config.redis.target, 'worker'),
      eventLog: runtime.eventLog,
      processingQueue: runtime.processingQueue,
      processChunk,
      requeueLostChunks: createRequeueLostChunks({
        db,
        eventLog: runtime.eventLog,
        queue: runtime.processingQueue,
        logger: runtime.logger,
      }),
      catchUps: buildProjectors(runtime),
    });
  }, 120_000);

  afterAll(async () => {
    // Bounded: closing the workers needs the cluster (a failed test may leave it down); the
    // cluster's processes are stopped whatever happens.
    releaseHold();
    const bounded = (work: Promise<void> | undefined): Promise<unknown> =>
      Promise.race([work?.catch(() => undefined), new Promise((r) => setTimeout(r, 20_000).unref())]);
    try {
      await bounded(workers?.close());
      await bounded(service?.stop());
    } finally {
      await cluster?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('completes the batch with exact counts after the queue master is killed', async () => {
    if (service === undefined || cluster === undefined) throw new Error('beforeAll did not finish');
    const { db } = service.runtime.mongo;
    const rows: SeedRow[] = Array.from({ length: 400 }, (_, i) => ({
      userId: `f${i % 53}`,
      eventType: ['view', 'buy', 'share'][i % 3] ?? 'view',
      timestamp: new Date(Date.UTC(2024, 4, 1 + (i % 5), i % 24, i % 60, Math.floor(i / 60))),
    }));
    const { batchId } = await seedBatch(service.runtime, rows);
    const queueMaster = await cluster.masterOf(`{${service.config.redis.prefix}}`);
    const started = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    expect(started.status).toBe(202);

    // Mid-processing: HOLD_AFTER of 80 chunks done, one active (held), the rest waiting.
    await held;
    const killedAt = Date.now();
    cluster.kill(queueMaster);
    await cluster.waitUntilHealthy(90_000);
    const failoverMs = Date.now() - killedAt;
    releaseHold();
    const masters = await cluster.masterPorts();
    expect(masters).not.toContain(queueMaster);
    expect(masters).toHaveLength(3);

    await waitFor(
      () => liveBatches(db),
      (docs) => docs.some((d) => d._id === batchId && d.status === 'completed'),
      180_000,
      'the batch completed after the failover',
    );
    const completedMs = Date.now() - killedAt;
    await projectionsCaughtUp(db, service.runtime.eventLog, 120_000);
    expect(sorted(await liveMetrics(db))).toEqual(sorted(recountRows(rows)));
    const batch = (await liveBatches(db)).find((b) => b._id === batchId);
    expect(batch?.processedEvents).toBe(rows.length);
    expect(await verifyReadModels(db, service.runtime.eventLog)).toEqual([]);

    // The API sees the new master too: health pings every master again.
    const baseUrl = service.baseUrl;
    const health = await waitFor(
      async () => (await (await fetch(`${baseUrl}/health`)).json()) as { checks: { redis: string } },
      (body) => body.checks.redis === 'ok',
      60_000,
      'health to see every master again',
    );
    expect(health.checks.redis).toBe('ok');
    // The read models' stamps come through the cluster too: the master of their key's run id, a token.
    const stamps = await readStamps(service.runtime.redis, service.config.redis.prefix);
    for (const stamp of Object.values(stamps)) expect(stamp).toMatch(/^[0-9a-f]{40}:[0-9a-f-]{36}(:\d)?$/);
    process.stderr.write(
      `failover figures: killed master ${queueMaster} after ${HOLD_AFTER}/${rows.length / 5} chunks; ` +
        `cluster healthy again after ${failoverMs} ms; batch completed ${completedMs} ms after the kill\n`,
    );
  }, 400_000);

  it('answers 503 (health and requests) once the cluster cannot serve every slot', async () => {
    if (service === undefined || cluster === undefined) throw new Error('beforeAll did not finish');
    const baseUrl = service.baseUrl;
    const { batchId } = await seedBatch(service.runtime, [
      { userId: 'down', eventType: 'view', timestamp: new Date(Date.UTC(2024, 5, 1)) },
    ]);
    // Every master at once: the replicas left have no majority to elect one (CLUSTERDOWN).
    const masters = await cluster.masterPorts();
    for (const port of masters) cluster.kill(port);
    const health = await waitFor(
      async () => {
        const res = await fetch(`${baseUrl}/health`);
        return { status: res.status, body: (await res.json()) as { checks: { redis: string } } };
      },
      (reply) => reply.status === 503,
      60_000,
      'health to report the cluster down',
    );
    expect(health.body.checks.redis).toBe('unavailable');
    const processed = await waitFor(
      () => fetch(`${baseUrl}/api/batches/${batchId}/process`, { method: 'POST' }),
      (res) => res.status === 503,
      60_000,
      'a process call to answer 503',
    );
    expect(processed.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await processed.json()) as { error: string }).error).toBe('ServiceUnavailable');

    // Started again, the masters rejoin with their data and the service is whole again.
    for (const port of masters) await cluster.restart(port);
    await cluster.waitUntilHealthy(90_000);
    await waitFor(
      async () => (await fetch(`${baseUrl}/health`)).status,
      (status) => status === 200,
      60_000,
      'health to see the cluster back',
    );
  }, 240_000);
});
