import type { DailyMetricsDoc } from '../../src/projections/dailyMetrics';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { liveCollection } from '../../src/projections/readModels';
import { projectionsCaughtUp } from '../support/recount';
import { seedBatch } from '../support/seedBatch';
import { testEnv } from '../support/testConfig';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';
import { batchStatusOf } from '../support/uploads';

const CLI = resolve(__dirname, '..', '..', 'dist', 'rebuildProjections.js');
/** What `npm run rebuild-projections` runs: the CLI, given the local stack's address (dev/). */
const WITH_LOCAL_STACK = resolve(__dirname, '..', '..', 'dist-dev', 'withLocalStack.js');

function runCli(
  env: Record<string, string>,
  args: string[],
  launch: string[] = [CLI],
): Promise<{ code: number | null; out: string; err: string }> {
  const cwd = mkdtempSync(join(tmpdir(), 'ems-rebuild-'));
  const child = spawn(process.execPath, [...launch, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((done) =>
    child.once('exit', (code) => {
      rmSync(cwd, { recursive: true, force: true });
      done({ code, out, err });
    }),
  );
}

describe('npm run rebuild-projections', () => {
  const env = testEnv({ EVENTS_PER_CHUNK: '2' });
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ env });
  });

  afterAll(async () => {
    await service.stop();
  });

  it('rebuilds with a progress bar, verifies clean, and reports every difference with exit 1', async () => {
    const { db } = service.runtime.mongo;
    const rows = Array.from({ length: 9 }, (_, i) => ({
      userId: `c${i}`,
      eventType: 'cli',
      timestamp: new Date(Date.UTC(2024, 1, 1, i)),
    }));
    const { batchId } = await seedBatch(service.runtime, rows);
    expect(
      (await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' })).status,
    ).toBe(202);
    await waitFor(
      () => batchStatusOf(service.baseUrl, batchId),
      (s) => s === 'completed',
    );
    await projectionsCaughtUp(db, service.runtime.eventLog);

    const rebuilt = await runCli(env, ['--verify']);
    expect(rebuilt.err).toMatch(/rebuilding \[#+\] (\d+)\/\1 records +\d+ rec\/s +ETA 0s/);
    expect(rebuilt.err).toMatch(/switched/);
    expect(rebuilt.err).toMatch(/read models match/);
    // A verify reads everything (minutes on a million events): it says which step it is on.
    expect(rebuilt.err).toMatch(
      /verifying the log\.\.\.[\s\S]*verifying the chunk documents[\s\S]*verifying the read models[\s\S]*verifying the raw events[\s\S]*verifying the batch status[\s\S]*read models match/,
    );
    expect(rebuilt.code).toBe(0);

    // Tamper with the live read model behind the projector's back: verify must see it.
    const metrics = await liveCollection<DailyMetricsDoc>(db, 'dailyMetrics');
    const day = await metrics.findOne({ _id: '2024-02-01' });
    const counts = (day?.counts ?? []).map((c) => (c.eventType === 'cli' ? { ...c, count: c.count + 5 } : c));
    await metrics.updateOne({ _id: '2024-02-01' }, { $set: { counts } });
    const checked = await runCli(env, ['--verify-only']);
    expect(checked.code).toBe(1);
    expect(checked.out).toMatch(/\["2024-02-01","cli"\]: read model has 14, recount gives 9/);

    expect((await runCli(env, ['--bogus'])).code).toBe(2);
  }, 60_000);

  it('rebuilds and verifies a database no service has opened yet', async () => {
    // The command opens only the stores it needs (not the service's runtime, which makes every
    // collection): an empty database must still rebuild, switch and verify clean.
    const fresh = { ...env, MONGODB_DB: `${env.MONGODB_DB ?? 'ems'}_fresh` };
    const rebuilt = await runCli(fresh, ['--verify']);
    expect(rebuilt.err).toMatch(/metricSeries: replayed 0 records into v2 \(was v1\); switched/);
    expect(rebuilt.err).toMatch(/read models match/);
    expect(rebuilt.code).toBe(0);
    const again = await runCli(fresh, []);
    expect(again.err).toMatch(/dailyMetrics: replayed 0 records into v3 \(was v2\); switched/);
    expect(again.code).toBe(0);
  }, 60_000);

  it('finds the running local stack by itself when MONGODB_URI and REDIS_URL are not set', async () => {
    const { MONGODB_URI: _mongo, REDIS_URL: _redis, ...rest } = env;
    const viaNpm = [WITH_LOCAL_STACK, CLI];
    const found = await runCli(
      { ...rest, STACK_DIR: process.env.TEST_STACK_DIR ?? '' },
      ['--verify-only'],
      viaNpm,
    );
    // It reads the same data as the test above: the read model tampered with there.
    expect(found.out).toMatch(/\["2024-02-01","cli"\]: read model has 14, recount gives 9/);
    expect(found.code).toBe(1);

    const none = await runCli(
      { ...rest, STACK_DIR: join(tmpdir(), 'no-such-stack') },
      ['--verify-only'],
      viaNpm,
    );
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/MONGODB_URI[\s\S]*npm start/);
  }, 60_000);
});
