import { setTimeout as sleep } from 'node:timers/promises';
import { checkEverything, metricsMatch } from './checks';
import { csvFile, prng, rowsOf, type CsvFile } from './workload';
import type { Server, World } from './world';

/**
 * The faults: what each scenario breaks, when, and how long the service takes to be right again.
 * Every scenario ends with checkEverything; `recoveryMs` is measured from the fault to the moment
 * the service answered correctly again (the re-upload's 201, or every batch completed).
 */

export interface Outcome {
  recoveryMs: number;
  note: string;
}

export interface Scenario {
  name: string;
  /** Workers started before the scenario (default 1). */
  workers?: number;
  /** API processes started before the scenario, each on its own port (default 1). */
  apis?: number;
  /** Service settings of its own (e.g. several chunks per file). */
  env?: Record<string, string>;
  run(world: World, size: number, seed: number): Promise<Outcome>;
}

/** Waits until at least `events` raw events are stored (a bounded wait), to strike mid-upload. */
async function whenStored(world: World, events: number): Promise<boolean> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if ((await world.storedEvents().catch(() => 0)) >= events) return true;
    await sleep(20);
  }
  return false;
}

async function progressOf(
  world: World,
  batchIds: readonly string[],
): Promise<{ processed: number; allDone: boolean }> {
  let processed = 0;
  let allDone = true;
  for (const id of batchIds) {
    const b = (await world.call('GET', `/api/batches/${id}`)).body;
    if (typeof b.processedEvents === 'number') processed += b.processedEvents;
    if (b.status !== 'completed') allDone = false;
  }
  return { processed, allDone };
}

/** Waits until processing has moved past `after` events (or is over), to strike mid-processing. */
async function whenProcessing(world: World, batchIds: readonly string[], after = 0): Promise<number> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { processed, allDone } = await progressOf(world, batchIds);
    if (processed > after || allDone || Date.now() > deadline) return processed;
    await sleep(50);
  }
}

async function processAll(world: World, batchIds: readonly string[]): Promise<void> {
  for (const id of batchIds) await world.call('POST', `/api/batches/${id}/process`);
}

async function waitCompleted(world: World, batchIds: readonly string[]): Promise<number> {
  const started = Date.now();
  for (const id of batchIds) {
    for (;;) {
      const b = (await world.call('GET', `/api/batches/${id}`)).body;
      if (b.status === 'completed') break;
      if (b.status === 'failed') await world.call('POST', `/api/batches/${id}/process`);
      if (Date.now() - started > 240_000)
        throw new Error(`batch ${id} did not complete: ${JSON.stringify(b)}`);
      await sleep(200);
    }
  }
  return Date.now() - started;
}

function files(size: number, seed: number, count: number, overlap = 0.5): CsvFile[] {
  const step = Math.floor(size * (1 - overlap));
  return Array.from({ length: count }, (_, i) => csvFile(`f${i}.csv`, rowsOf(i * step, size, seed + i)));
}

async function uploadAll(world: World, list: readonly CsvFile[]): Promise<string[]> {
  const ids: string[] = [];
  for (const f of list) ids.push((await world.uploadUntilStored(f.name, f.text)).body.batchId as string);
  return ids;
}

/** Kill `server` while a file is being stored, restart it, and store the file again. */
function serverKilledMidUpload(server: Server): Scenario {
  return {
    name: `${server} killed mid-upload`,
    async run(world, size, seed) {
      const [file] = files(size, seed, 1);
      if (file === undefined) throw new Error('no file');
      const pending = world.upload(file.name, file.text);
      const struck = await whenStored(world, Math.floor(size / 5));
      await world.kill(server);
      const killedAt = Date.now();
      const first = await pending;
      await world.restart();
      const retried = first.status === 201 ? first : await world.uploadUntilStored(file.name, file.text);
      const recoveryMs = Date.now() - killedAt;
      await checkEverything(world, [file], [retried.body.batchId as string]);
      return {
        recoveryMs,
        note: `${struck ? '' : 'upload ended before the kill; '}first answer ${first.status}`,
      };
    },
  };
}

/** Kill `server` while batches are being processed, restart it, and let processing finish. */
function serverKilledMidProcessing(server: Server): Scenario {
  return {
    name: `${server} killed mid-processing`,
    env: { WORKER_CONCURRENCY: '2', EVENTS_PER_JOB: '200' },
    async run(world, size, seed) {
      const list = files(size, seed, 2);
      const ids = await uploadAll(world, list);
      await processAll(world, ids);
      await whenProcessing(world, ids);
      await world.kill(server);
      const killedAt = Date.now();
      await sleep(500);
      await world.restart();
      await waitCompleted(world, ids);
      const recoveryMs = Date.now() - killedAt;
      await checkEverything(world, list, ids);
      return { recoveryMs, note: '' };
    },
  };
}

/** The `r=` (remaining) of a draft-8 `RateLimit` header, e.g. `"uploads";r=9;t=60`. */
function remainingOf(reply: { headers?: Headers }): number | undefined {
  const match = /;\s*r=(\d+)/.exec(reply.headers?.get('ratelimit') ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * Three API and three worker processes on one stack: files uploaded through different APIs at
 * once, one API killed mid-upload (the file stored again through another), every batch processed
 * from two APIs, a worker killed mid-processing and replaced; then the usual checks, the same
 * metrics from every API, and one rate-limit window counted across all three.
 */
const manyProcesses: Scenario = {
  name: '3 APIs + 3 workers, an API and a worker killed',
  apis: 3,
  workers: 3,
  env: { WORKER_CONCURRENCY: '2', EVENTS_PER_JOB: '200', UPLOAD_RATE_LIMIT: '1000' },
  async run(world, size, seed) {
    const list = files(size, seed, 3);
    const [f0, f1, f2] = list;
    if (f0 === undefined || f1 === undefined || f2 === undefined) throw new Error('no file');
    const started = Date.now();
    const pending = world.upload(f1.name, f1.text, 1);
    const others = Promise.all([
      world.uploadUntilStored(f0.name, f0.text, 300_000, 0),
      world.uploadUntilStored(f2.name, f2.text, 300_000, 2),
    ]);
    await whenStored(world, Math.floor(size / 5));
    await world.apis[1]?.kill();
    const first = await pending;
    const retried =
      first.status === 201 ? first : await world.uploadUntilStored(f1.name, f1.text, 300_000, 2);
    await world.startApi(1);
    const ids = [...(await others), retried].map((r) => r.body.batchId as string);
    // Each batch processed from two different APIs at once.
    await Promise.all(
      ids.flatMap((id, i) => [
        world.call('POST', `/api/batches/${id}/process`, undefined, i % 3),
        world.call('POST', `/api/batches/${id}/process`, undefined, (i + 1) % 3),
      ]),
    );
    await whenProcessing(world, ids);
    await world.workers[0]?.kill();
    await world.startWorker();
    await waitCompleted(world, ids);
    const recoveryMs = Date.now() - started;
    await checkEverything(world, list, ids);
    // Every other API answers the same metrics (they read one database) and is healthy.
    for (let api = 1; api < world.apis.length; api++) {
      await world.waitHealthy(60_000, true, api);
      await metricsMatch(world, list, api);
    }
    // One window shared by every API: each request, whichever API takes it, counts once.
    const remaining: (number | undefined)[] = [];
    for (let i = 0; i < 6; i++)
      remaining.push(remainingOf(await world.call('POST', '/api/uploads', new FormData(), i % 3)));
    for (let i = 1; i < remaining.length; i++) {
      const before = remaining[i - 1];
      const now = remaining[i];
      if (before === undefined || now === undefined || now !== before - 1) {
        throw new Error(
          `the rate limit is not shared across the APIs: remaining ${JSON.stringify(remaining)}`,
        );
      }
    }
    return {
      recoveryMs,
      note:
        `${first.status === 201 ? 'upload ended before the API kill' : `killed API answered ${first.status}`}; ` +
        `rate limit remaining across APIs ${remaining.join(',')}`,
    };
  },
};

export const SCENARIOS: Scenario[] = [
  {
    name: 'API killed mid-upload, re-upload',
    async run(world, size, seed) {
      const [clean, file] = files(size, seed, 2, 0);
      if (clean === undefined || file === undefined) throw new Error('no file');
      const cleanReply = await world.uploadUntilStored(clean.name, clean.text);
      // Killed at a random point of the upload: between 10% and 90% of a clean upload's time.
      const fraction = 0.1 + prng(seed)() * 0.8;
      const pending = world.upload(file.name, file.text);
      await sleep(cleanReply.ms * fraction);
      await world.api.kill();
      const first = await pending;
      const killedAt = Date.now();
      await world.startApi();
      const retried = await world.uploadUntilStored(file.name, file.text);
      const recoveryMs = Date.now() - killedAt;
      const distinct = new Set(file.rows.map((r) => JSON.stringify(r))).size;
      // The killed upload stored all of the file or nothing: all when it was killed after its
      // commit was decided, even with no answer sent (recovery then appends its BatchUploaded).
      const earlier = await world.db
        .collection<{ data: { batchId: string; fileName: string; newEvents: number } }>('event_log')
        .find({
          type: 'BatchUploaded',
          'data.fileName': file.name,
          'data.batchId': { $ne: retried.body.batchId },
        })
        .toArray();
      const storedBefore = earlier.reduce((n, r) => n + r.data.newEvents, 0);
      if (storedBefore !== 0 && storedBefore !== distinct) {
        throw new Error(`the killed upload stored ${storedBefore} of ${distinct} events, not all or nothing`);
      }
      if (first.status === 201 && storedBefore !== distinct) {
        throw new Error(`the upload answered 201 but its batch holds ${storedBefore} of ${distinct} events`);
      }
      const expectedNew = distinct - storedBefore;
      if (retried.body.totalEvents !== expectedNew) {
        throw new Error(
          `the re-upload stored ${String(retried.body.totalEvents)} new events, expected ${expectedNew}`,
        );
      }
      const ids = [
        cleanReply.body.batchId,
        retried.body.batchId,
        first.status === 201 ? first.body.batchId : undefined,
      ];
      await checkEverything(
        world,
        [clean, file],
        ids.filter((id): id is string => typeof id === 'string'),
      );
      const ratio = retried.ms / cleanReply.ms;
      return {
        recoveryMs,
        note:
          `${first.status === 201 ? 'upload ended before the kill' : `killed at ${Math.round(fraction * 100)}% of a clean upload's time${storedBefore > 0 ? ', after its commit' : ''}`}; ` +
          `re-upload ${(retried.ms / 1000).toFixed(1)} s = ${ratio.toFixed(2)}x a clean upload`,
      };
    },
  },
  {
    name: 'worker killed mid-processing, 3 times',
    env: { WORKER_CONCURRENCY: '2', EVENTS_PER_JOB: '200' },
    async run(world, size, seed) {
      const list = files(size, seed, 2);
      const ids = await uploadAll(world, list);
      await processAll(world, ids);
      const firstKill = Date.now();
      let progress = 0;
      for (let i = 0; i < 3; i++) {
        progress = await whenProcessing(world, ids, progress);
        const worker = world.workers.at(-1);
        await worker?.kill();
        await sleep(200 + prng(seed + i)() * 800);
        await world.startWorker();
      }
      await waitCompleted(world, ids);
      const recoveryMs = Date.now() - firstKill;
      await checkEverything(world, list, ids);
      return { recoveryMs, note: '' };
    },
  },
  {
    name: 'two workers, one killed',
    workers: 2,
    env: { WORKER_CONCURRENCY: '2', EVENTS_PER_JOB: '200' },
    async run(world, size, seed) {
      const list = files(size, seed, 2);
      const ids = await uploadAll(world, list);
      await processAll(world, ids);
      await whenProcessing(world, ids);
      await world.workers[0]?.kill();
      const killedAt = Date.now();
      await waitCompleted(world, ids);
      const recoveryMs = Date.now() - killedAt;
      await checkEverything(world, list, ids);
      return { recoveryMs, note: '' };
    },
  },
  manyProcesses,
  serverKilledMidUpload('redis'),
  serverKilledMidProcessing('redis'),
  serverKilledMidUpload('ferretdb'),
  serverKilledMidProcessing('ferretdb'),
  serverKilledMidUpload('postgres'),
  serverKilledMidProcessing('postgres'),
  {
    name: 'machine killed mid-upload (everything)',
    async run(world, size, seed) {
      const [file] = files(size, seed, 1);
      if (file === undefined) throw new Error('no file');
      const pending = world.upload(file.name, file.text);
      const struck = await whenStored(world, Math.floor(size / 3));
      await world.api.kill();
      for (const w of world.workers) await w.kill();
      for (const server of ['redis', 'ferretdb', 'postgres'] as const) await world.kill(server);
      await pending;
      const killedAt = Date.now();
      await world.restart();
      await world.startApi();
      await world.startWorker();
      const retried = await world.uploadUntilStored(file.name, file.text);
      const recoveryMs = Date.now() - killedAt;
      await checkEverything(world, [file], [retried.body.batchId as string]);
      return { recoveryMs, note: struck ? '' : 'upload ended before the kill' };
    },
  },
  {
    name: 'concurrent overlapping uploads and process calls',
    async run(world, size, seed) {
      const list = files(size, seed, 5, 0.6);
      const started = Date.now();
      const replies = await Promise.all(list.map((f) => world.uploadUntilStored(f.name, f.text)));
      const ids = replies.map((r) => r.body.batchId as string);
      // Five process calls per batch at once.
      await Promise.all(
        ids.flatMap((id) =>
          Array.from({ length: 5 }, () => world.call('POST', `/api/batches/${id}/process`)),
        ),
      );
      await waitCompleted(world, ids);
      const recoveryMs = Date.now() - started;
      await checkEverything(world, list, ids);
      const busy = world.statuses.filter((s) => s === 503).length;
      return { recoveryMs, note: `${busy} answer(s) 503 (busy or waiting), none 500` };
    },
  },
];
