import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SERVICE_NODE_FLAGS } from '../../src/nodeFlags';
import { verifyReadModels } from '../../src/projections/verify';
import { liveBatches, liveMetrics, projectionsCaughtUp, recountRows, sorted } from '../support/recount';
import { seedBatch, type SeedRow } from '../support/seedBatch';
import { testEnv } from '../support/testConfig';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

const MAIN = resolve(__dirname, '..', '..', 'dist', 'main.js');

/** Two `node dist/main.js worker` processes share one database and queue; the API runs in this process. */
describe('two worker processes at once', () => {
  const env = testEnv({ EVENTS_PER_CHUNK: '7', WORKER_CONCURRENCY: '5' });
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ env, workers: false });
    for (let i = 0; i < 2; i++) {
      const cwd = mkdtempSync(join(tmpdir(), 'ems-worker-'));
      dirs.push(cwd);
      children.push(
        spawn(process.execPath, [...SERVICE_NODE_FLAGS, MAIN, 'worker'], {
          cwd,
          env: { PATH: process.env.PATH ?? '', ...env },
          stdio: 'ignore',
        }),
      );
    }
  });

  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) {
              done();
              return;
            }
            // A worker that has not shut down gracefully within the bound (a loaded machine, a
            // Redis Cluster still failing over) is killed: teardown must end either way.
            const hard = setTimeout(() => child.kill('SIGKILL'), 60_000);
            child.once('exit', () => {
              clearTimeout(hard);
              done();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await service.stop();
  }, 180_000);

  it('processes overlapping batches, each processed twice concurrently, exactly once', async () => {
    const { db } = service.runtime.mongo;
    const all: SeedRow[] = Array.from({ length: 600 }, (_, i) => ({
      userId: `w${i % 37}`,
      eventType: ['open', 'close', 'share'][i % 3] ?? 'open',
      timestamp: new Date(Date.UTC(2024, 8, 1 + (i % 4), i % 24, i % 60)),
    }));
    const files = [all.slice(0, 250), all.slice(200, 450), all.slice(400, 600), all.slice(100, 300)];
    const uploaded: SeedRow[] = [];
    const batchIds: string[] = [];
    for (const rows of files) {
      batchIds.push((await seedBatch(service.runtime, rows)).batchId);
      uploaded.push(...rows);
    }
    const calls = batchIds.flatMap((id) => [id, id]);
    const statuses = await Promise.all(
      calls.map(
        async (id) =>
          (await fetch(`${service.baseUrl}/api/batches/${id}/process`, { method: 'POST' })).status,
      ),
    );
    for (const status of statuses) expect([200, 202]).toContain(status);
    expect(statuses).toContain(202);

    await waitFor(
      () => liveBatches(db),
      (docs) => batchIds.every((id) => docs.some((d) => d._id === id && d.status === 'completed')),
      90_000,
      'every batch completed by the worker processes',
    );
    await projectionsCaughtUp(db, service.runtime.eventLog);
    expect(sorted(await liveMetrics(db))).toEqual(sorted(recountRows(uploaded)));
    expect(await verifyReadModels(db, service.runtime.eventLog)).toEqual([]);
    for (const child of children) expect(child.exitCode).toBeNull();
  }, 120_000);
});
