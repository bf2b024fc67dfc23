import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SERVICE_NODE_FLAGS } from '../../src/nodeFlags';
import { verifyReadModels } from '../../src/projections/verify';
import { chunkJobId } from '../../src/chunkJobs';
import { startPrivatePostgresStack } from '../support/privateServers';
import { liveBatches, liveMetrics, projectionsCaughtUp, recountRows, sorted } from '../support/recount';
import { seedBatch, type SeedRow } from '../support/seedBatch';
import { testEnv } from '../support/testConfig';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

const MAIN = resolve(__dirname, '..', '..', 'dist', 'main.js');
/** More than the two stalls that used to fail a chunk job ("job stalled more than allowable limit"). */
const KILLS = 4;

/**
 * A worker process killed while it runs a chunk job leaves the job stalled; killed again and again,
 * the job used to fail for good and with it the batch. Each kill here strikes while the job is
 * running: FerretDB is frozen (SIGSTOP) first, so the job's first command hangs until the kill.
 */
describe('worker processes killed while they run the same chunk job', () => {
  let stack: Awaited<ReturnType<typeof startPrivatePostgresStack>>;
  let env: Record<string, string>;
  let service: TestService;
  const children: ChildProcess[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    stack = await startPrivatePostgresStack();
    env = testEnv({
      MONGODB_URI: stack.mongoUri,
      EVENTS_PER_CHUNK: '1000',
      WORKER_CONCURRENCY: '1',
      LOG_LEVEL: 'info',
    });
    service = await startTestService({ env, workers: false });
  }, 120_000);

  afterAll(async () => {
    stack.signalFerretDb('SIGCONT');
    await Promise.all(children.map((child) => stopChild(child, 'SIGTERM')));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await service.stop();
    await stack.destroy();
  }, 60_000);

  function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((done) => {
      child.once('exit', () => {
        done();
      });
      child.kill(signal);
    });
  }

  /** Starts `node dist/main.js worker` and waits until its BullMQ workers run. */
  async function startWorker(settings: Record<string, string>): Promise<ChildProcess> {
    const cwd = mkdtempSync(join(tmpdir(), 'ems-worker-'));
    dirs.push(cwd);
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, MAIN, 'worker'], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env, ...settings },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(child);
    await new Promise<void>((done, fail) => {
      let seen = '';
      child.stdout.on('data', (bytes: Buffer) => {
        if (seen.includes('workers started')) return;
        seen += bytes.toString('utf8');
        if (seen.includes('workers started')) done();
      });
      child.once('exit', (code) => {
        fail(new Error(`worker exited with ${code ?? 'a signal'} before it started`));
      });
    });
    return child;
  }

  function rowsFor(label: string): SeedRow[] {
    return Array.from({ length: 300 }, (_, i) => ({
      userId: `${label}${i % 17}`,
      eventType: ['play', 'stop', 'seek'][i % 3] ?? 'play',
      timestamp: new Date(Date.UTC(2024, 2, 1 + (i % 6), i % 24, i % 60)),
    }));
  }

  /**
   * Processes a one-chunk batch with worker processes of `settings`, killing the worker that runs
   * its job `kills` times (fewer when the job fails first); returns how the batch ended.
   */
  async function processKillingWorkers(
    rows: SeedRow[],
    kills: number,
    settings: Record<string, string> = {},
  ): Promise<{ batchId: string; status: string | undefined; failedReason: string | null }> {
    const { batchId } = await seedBatch(service.runtime, rows);
    const queue = service.runtime.processingQueue;
    const jobId = chunkJobId(batchId, 0);
    const state = () => queue.getJobState(jobId);
    // Paused, a worker takes the job only when the test lets it.
    await queue.pause();
    const started = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    expect(started.status).toBe(202);

    let worker = await startWorker(settings);
    for (let kill = 1; kill <= kills; kill++) {
      stack.signalFerretDb('SIGSTOP');
      await queue.resume();
      const taken = await waitFor(
        state,
        (s) => s === 'active' || s === 'failed',
        60_000,
        'a worker to take the job',
      );
      if (taken === 'failed') {
        stack.signalFerretDb('SIGCONT');
        break;
      }
      await stopChild(worker, 'SIGKILL');
      await queue.pause();
      stack.signalFerretDb('SIGCONT');
      // The next worker finds the job stalled (its lock lapsed with its dead worker) and puts it back.
      worker = await startWorker(settings);
      await waitFor(state, (s) => s !== 'active', 120_000, 'the stalled job to be put back');
    }
    await queue.resume();

    const batches = await waitFor(
      () => liveBatches(service.runtime.mongo.db),
      (docs) => docs.some((d) => d._id === batchId && (d.status === 'completed' || d.status === 'failed')),
      120_000,
      'the batch to end',
    );
    await stopChild(worker, 'SIGTERM');
    const batch = batches.find((d) => d._id === batchId);
    return { batchId, status: batch?.status, failedReason: batch?.failedReason ?? null };
  }

  it('completes the batch with exact metrics', async () => {
    const rows = rowsFor('k');
    const ended = await processKillingWorkers(rows, KILLS);
    expect({ status: ended.status, failedReason: ended.failedReason }).toEqual({
      status: 'completed',
      failedReason: null,
    });
    const { db } = service.runtime.mongo;
    await projectionsCaughtUp(db, service.runtime.eventLog);
    expect(sorted(await liveMetrics(db))).toEqual(sorted(recountRows(rows)));
    expect(await verifyReadModels(db, service.runtime.eventLog)).toEqual([]);
  }, 600_000);

  it('still fails a job that loses its worker more than PROCESSING_MAX_STALLS times, saying so', async () => {
    const ended = await processKillingWorkers(rowsFor('p'), 3, { PROCESSING_MAX_STALLS: '1' });
    expect(ended.status).toBe('failed');
    const failed = await service.runtime.processingQueue.getJob(chunkJobId(ended.batchId, 0));
    expect(failed?.failedReason).toMatch(/stalled/);
  }, 600_000);
});
