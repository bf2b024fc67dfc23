import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  allDays,
  distinctRows,
  recount,
  recountSeries,
  SERIES_FROM,
  SERIES_TO,
  SERIES_ZONE,
} from './workload';
import type { CsvFile } from './workload';
import { ROOT, type World } from './world';

/**
 * What must hold after every scenario, whatever was killed. The suite is a witness: it never
 * processes a failed batch again nor waits out an unexcused 503. Every batch ends completed in its
 * first round with no failure in the log, the daily metrics per UTC day, the daily series in
 * another zone with unique users, `raw_events` and the batches' totalEvents all equal the suite's
 * own recount, `rebuild-projections --verify` exits 0 in bounded time, /health is ok, no request
 * was answered with a 500, no 503 (or no answer) came outside a fault, and no service process
 * exited by itself.
 */

const BATCH_TIMEOUT_MS = 300_000;
const CATCH_UP_MS = 120_000;
const VERIFY_TIMEOUT_MS = 300_000;

interface LogRecord {
  type: string;
  data: { batchId: string; round?: number; chunk?: number; reason?: string; newEvents?: number };
}

function records(world: World, type: string): Promise<LogRecord[]> {
  return world.db.collection<LogRecord>('event_log').find({ type }).toArray();
}

/**
 * One process call that took effect: a 503 or no answer (a dependency still coming back) did
 * nothing, so the call is made again, as a client would; any other refusal fails the run.
 */
export async function processBatch(world: World, batchId: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const reply = await world.call('POST', `/api/batches/${batchId}/process`);
    if (reply.status >= 200 && reply.status < 300) return;
    if ((reply.status !== 503 && reply.status !== 0) || Date.now() > deadline)
      throw new Error(
        `POST /api/batches/${batchId}/process answered ${reply.status}: ${JSON.stringify(reply.body)}`,
      );
    await sleep(500);
  }
}

/**
 * Waits until every batch is completed. A batch that no process call reached (an upload killed
 * after its commit, or a scenario that only uploads) is processed once; a batch seen failed fails
 * the run at once.
 */
export async function processToCompletion(world: World, batchIds: readonly string[]): Promise<void> {
  const started = new Set((await records(world, 'BatchProcessingStarted')).map((r) => r.data.batchId));
  for (const batchId of batchIds) if (!started.has(batchId)) await processBatch(world, batchId);
  await waitCompleted(world, batchIds, BATCH_TIMEOUT_MS);
}

/**
 * Batches that asked to process themselves (event posts) must each start, whatever was killed: the
 * suite waits for that (the claim sweep starts one whose API died after storing it) and never
 * starts one itself.
 */
async function startedByThemselves(world: World, batchIds: readonly string[]): Promise<void> {
  const deadline = Date.now() + CATCH_UP_MS;
  for (;;) {
    const started = new Set((await records(world, 'BatchProcessingStarted')).map((r) => r.data.batchId));
    const waiting = batchIds.filter((id) => !started.has(id));
    if (waiting.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`batches stored from posts never started processing: ${waiting.join(', ')}`);
    await sleep(500);
  }
}

/** Waits until every batch is completed; a failed batch, or one still running at the deadline, throws. */
export async function waitCompleted(
  world: World,
  batchIds: readonly string[],
  timeoutMs = BATCH_TIMEOUT_MS,
): Promise<number> {
  const started = Date.now();
  for (const batchId of batchIds) {
    for (;;) {
      const batch = (await world.call('GET', `/api/batches/${batchId}`)).body;
      if (batch.status === 'completed') break;
      if (batch.status === 'failed') throw new Error(`batch ${batchId} failed: ${JSON.stringify(batch)}`);
      if (Date.now() - started > timeoutMs)
        throw new Error(`batch ${batchId} stuck after ${timeoutMs / 1000} s: ${JSON.stringify(batch)}`);
      await sleep(300);
    }
  }
  return Date.now() - started;
}

/** The log must show no failed chunk and no second processing round (which only a failure starts). */
async function noFailureInLog(world: World): Promise<void> {
  const failed = await records(world, 'BatchProcessingFailed');
  const rounds = (await records(world, 'BatchProcessingStarted')).filter((r) => (r.data.round ?? 1) > 1);
  const wrong = [
    ...failed.map(
      (r) => `batch ${r.data.batchId} chunk ${r.data.chunk ?? '?'} failed: ${r.data.reason ?? '?'}`,
    ),
    ...rounds.map((r) => `batch ${r.data.batchId} was processed again (round ${r.data.round ?? '?'})`),
  ];
  if (wrong.length > 0) throw new Error(`the event log shows failures:\n${wrong.join('\n')}`);
}

/** Asks until `read` gives what `want` holds (projections and caches catch up), or throws at the deadline. */
async function eventually(what: string, read: () => Promise<string>, want: string): Promise<void> {
  const deadline = Date.now() + CATCH_UP_MS;
  for (;;) {
    const got = await read();
    if (got === want) return;
    if (Date.now() > deadline)
      throw new Error(`${what} differs from the recount:\ngot     ${got}\nrecount ${want}`);
    await sleep(500);
  }
}

/** GET /api/metrics of every UTC day equals the recount. */
export async function metricsMatch(world: World, files: readonly CsvFile[], apiIndex = 0): Promise<void> {
  const counts = recount(files);
  const want = allDays().map((day) => ({
    day,
    metrics: [...(counts.get(day) ?? [])]
      .map(([eventType, count]) => ({ eventType, count }))
      .sort((a, b) => (a.eventType < b.eventType ? -1 : 1)),
  }));
  await eventually(
    'GET /api/metrics',
    async () => {
      const got = [];
      for (const { day } of want) {
        const reply = await world.call('GET', `/api/metrics?date=${day}`, undefined, apiIndex);
        got.push({ day, metrics: reply.body.metrics ?? null });
      }
      return JSON.stringify(got);
    },
    JSON.stringify(want),
  );
}

/** The daily series in a zone 5.5 h east of UTC, with unique users, equals the recount. */
export async function seriesMatch(world: World, files: readonly CsvFile[], apiIndex = 0): Promise<void> {
  const path = `/api/metrics/series?from=${SERIES_FROM}&to=${SERIES_TO}&tz=${encodeURIComponent(SERIES_ZONE)}`;
  await eventually(
    `GET ${path}`,
    async () => {
      const { body } = await world.call('GET', path, undefined, apiIndex);
      const incomplete = Array.isArray(body.incompleteDays) ? body.incompleteDays : [];
      return JSON.stringify({ series: body.series ?? null, totals: body.totals ?? null, incomplete });
    },
    JSON.stringify({ ...recountSeries(files), incomplete: [] }),
  );
}

/** `raw_events` holds each distinct event once, and the batches' totalEvents add up to them. */
async function storedEventsMatch(
  world: World,
  files: readonly CsvFile[],
  batchIds: readonly string[],
  retracted: ReadonlySet<string>,
) {
  const distinct = String(distinctRows(files).length);
  await eventually(
    'raw_events',
    async () => String(await world.db.collection('raw_events').countDocuments()),
    distinct,
  );
  await eventually(
    'the sum of totalEvents of every batch',
    async () => {
      // Read again each time: a batch whose API died after storing it gets its BatchUploaded from
      // the claim sweep later (its producer's retry already answered), after the list above.
      const all = [...new Set([...batchIds, ...(await allBatches(world))])].filter(
        (id) => !retracted.has(id),
      );
      let sum = 0;
      for (const id of all) {
        const total = (await world.call('GET', `/api/batches/${id}`)).body.totalEvents;
        sum += typeof total === 'number' ? total : Number.NaN;
      }
      return String(sum);
    },
    distinct,
  );
}

export function verifyExitsZero(world: World): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'rebuildProjections.js'), '--verify'], {
      env: { PATH: process.env.PATH ?? '', ...world.serviceEnv() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rebuild-projections --verify did not end within ${VERIFY_TIMEOUT_MS / 1000} s`));
    }, VERIFY_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
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
  return (await records(world, 'BatchUploaded')).map((r) => r.data.batchId);
}

/** Answers no fault excuses, and processes that died on their own. */
export function conductProblems(world: World): string[] {
  const failures = world.answers.filter((a) => a.status >= 500 && a.status !== 503);
  const unexcused = world.unexcused();
  const lines = [
    ...failures.map((a) => `${a.method} ${a.path} answered ${a.status}`),
    ...unexcused.map(
      (a) =>
        `${a.method} ${a.path} answered ${a.status === 0 ? 'nothing' : a.status} ` +
        `at +${((a.sent - world.createdAt) / 1000).toFixed(1)} s with no fault injected`,
    ),
    ...world.ownExits,
  ];
  return lines.length > 12 ? [...lines.slice(0, 12), `(${lines.length - 12} more)`] : lines;
}

export async function checkEverything(
  world: World,
  files: readonly CsvFile[],
  batchIds: readonly string[],
  {
    processedByThemselves = false,
    retracted = [],
  }: {
    processedByThemselves?: boolean;
    /** Batches taken back: they count nowhere and are never completed. */
    retracted?: readonly string[];
  } = {},
): Promise<void> {
  const gone = new Set(retracted);
  const batches = [...new Set([...batchIds, ...(await allBatches(world))])].filter((id) => !gone.has(id));
  if (processedByThemselves) await startedByThemselves(world, batches);
  await processToCompletion(world, batches);
  await noFailureInLog(world);
  await metricsMatch(world, files);
  await seriesMatch(world, files);
  await storedEventsMatch(world, files, batches, gone);
  await verifyExitsZero(world);
  await world.waitHealthy(120_000);
  const problems = conductProblems(world);
  if (problems.length > 0) throw new Error(problems.join('\n'));
}
