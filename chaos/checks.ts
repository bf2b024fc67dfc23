import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { allDays, recount, type CsvFile } from './workload';
import { ROOT, type World } from './world';

/**
 * What must hold after every scenario, whatever was killed: every batch ends completed (a failed
 * one is processed again), no batch stays processing, every metric equals the independent recount,
 * `rebuild-projections --verify` exits 0, /health is ok, and no request was answered with a 500.
 */

const BATCH_TIMEOUT_MS = 180_000;

async function batchStatus(world: World, batchId: string): Promise<Record<string, unknown>> {
  return (await world.call('GET', `/api/batches/${batchId}`)).body;
}

/** Processes every batch until it is completed; a failed round is processed again (bounded). */
export async function processToCompletion(world: World, batchIds: readonly string[]): Promise<void> {
  for (const batchId of batchIds) {
    const deadline = Date.now() + BATCH_TIMEOUT_MS;
    let rounds = 0;
    for (;;) {
      const batch = await batchStatus(world, batchId);
      if (batch.status === 'completed') break;
      if (
        batch.status === 'uploaded' ||
        batch.status === 'failed' ||
        (batch.status === undefined && rounds === 0)
      ) {
        if (rounds >= 10)
          throw new Error(`batch ${batchId} still ${String(batch.status)} after ${rounds} process calls`);
        await world.call('POST', `/api/batches/${batchId}/process`);
        rounds += 1;
      }
      if (Date.now() > deadline) throw new Error(`batch ${batchId} stuck: ${JSON.stringify(batch)}`);
      await sleep(300);
    }
  }
}

type Metrics = { eventType: string; count: number }[];

function expected(files: readonly CsvFile[]): Map<string, Metrics> {
  const byDay = new Map<string, Metrics>();
  for (const [day, types] of recount(files)) {
    byDay.set(
      day,
      [...types]
        .map(([eventType, count]) => ({ eventType, count }))
        .sort((a, b) => (a.eventType < b.eventType ? -1 : 1)),
    );
  }
  return byDay;
}

/** Waits until GET /api/metrics of every day equals the recount (projections catch up eventually). */
export async function metricsMatch(world: World, files: readonly CsvFile[], apiIndex = 0): Promise<void> {
  const want = expected(files);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const wrong: string[] = [];
    for (const day of allDays()) {
      const reply = await world.call('GET', `/api/metrics?date=${day}`, undefined, apiIndex);
      const got = JSON.stringify(reply.body.metrics ?? null);
      const wanted = JSON.stringify(want.get(day) ?? []);
      if (got !== wanted) wrong.push(`${day}: got ${got}, recount ${wanted}`);
    }
    if (wrong.length === 0) return;
    if (Date.now() > deadline) throw new Error(`metrics differ from the recount:\n${wrong.join('\n')}`);
    await sleep(500);
  }
}

export function verifyExitsZero(world: World): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'rebuildProjections.js'), '--verify'], {
      env: { PATH: process.env.PATH ?? '', ...world.serviceEnv() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`rebuild-projections --verify exited ${code}:\n${output.slice(-2000)}`));
    });
  });
}

/**
 * Every batch in the event log, read from the database: an upload killed after its commit but
 * before its answer left a batch that no client knows of (and that the batch list may not show yet).
 */
async function allBatches(world: World): Promise<string[]> {
  const records = await world.db
    .collection<{ type: string; data: { batchId: string } }>('event_log')
    .find({ type: 'BatchUploaded' })
    .toArray();
  return records.map((r) => r.data.batchId);
}

export async function checkEverything(
  world: World,
  files: readonly CsvFile[],
  batchIds: readonly string[],
): Promise<void> {
  await processToCompletion(world, [...new Set([...batchIds, ...(await allBatches(world))])]);
  await metricsMatch(world, files);
  await verifyExitsZero(world);
  await world.waitHealthy(60_000);
  const failures = world.statuses.filter((s) => s >= 500 && s !== 503);
  if (failures.length > 0) throw new Error(`the API answered ${failures.join(', ')} (only 503 is allowed)`);
}
