import { setTimeout as sleep } from 'node:timers/promises';
import { checkEverything, waitCompleted } from './checks';
import { files, processedAfter, tracked } from './strike';
import type { CsvFile, Row } from './workload';
import type { Reply, World } from './world';
import type { Scenario } from './scenarios';

/**
 * The faults of POST /api/events: posts grouped into shared batches (group commit) that process
 * themselves. Producers post a file's rows 100 at a time from several clients and post again
 * whatever got no 201, as a producer would; nothing here ever calls POST /api/batches/:id/process,
 * so a batch that did not process itself (its answers lost with the API too) fails the checks.
 */

const PER_POST = 100;

interface Posted {
  events: number;
  reply: Reply;
}

function postsOf(list: readonly CsvFile[]): string[] {
  const rows: Row[] = list.flatMap((f) => f.rows);
  const bodies: string[] = [];
  for (let i = 0; i < rows.length; i += PER_POST) {
    const slice = rows.slice(i, i + PER_POST);
    bodies.push(
      JSON.stringify(slice.map((r) => ({ userId: r.userId, eventType: r.eventType, timestamp: r.at }))),
    );
  }
  return bodies;
}

/**
 * `clients` producers post the bodies in turn, producer c through API c mod `apis`; a post without a
 * 201 (killed API, 503) is sent again through the same API.
 */
async function produce(
  world: World,
  bodies: readonly string[],
  clients: number,
  apis = 1,
): Promise<Posted[]> {
  let next = 0;
  const answered: Posted[] = [];
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = next++; i < bodies.length; i = next++) {
        const body = bodies[i] ?? '[]';
        const deadline = Date.now() + 300_000;
        for (;;) {
          const reply = await world.call('POST', '/api/events', body, client % apis);
          if (reply.status === 201) {
            answered.push({ events: (JSON.parse(body) as unknown[]).length, reply });
            break;
          }
          if ((reply.status !== 503 && reply.status !== 0) || Date.now() > deadline)
            throw new Error(`a post answered ${reply.status}: ${JSON.stringify(reply.body)}`);
          await sleep(300);
        }
      }
    }),
  );
  return answered;
}

/** The batches of these answers must have started processing by themselves; their counts must add up. */
async function autoProcessedAndCounted(world: World, answered: readonly Posted[]): Promise<string[]> {
  const perBatch = new Map<string, number>();
  for (const { events, reply } of answered) {
    const { batchId, totalEvents, duplicates, processingStarted } = reply.body;
    if (Number(totalEvents) + Number(duplicates) !== events)
      throw new Error(`a post of ${events} events answered ${JSON.stringify(reply.body)}`);
    if (processingStarted !== true)
      throw new Error(`a post's batch did not start processing: ${JSON.stringify(reply.body)}`);
    perBatch.set(String(batchId), (perBatch.get(String(batchId)) ?? 0) + Number(totalEvents));
  }
  const log = world.db.collection<{ type: string; data: { batchId: string; newEvents?: number } }>(
    'event_log',
  );
  const ids = [...perBatch.keys()];
  const started = new Set(
    (await log.find({ type: 'BatchProcessingStarted', 'data.batchId': { $in: ids } }).toArray()).map(
      (r) => r.data.batchId,
    ),
  );
  const uploaded = await log.find({ type: 'BatchUploaded', 'data.batchId': { $in: ids } }).toArray();
  for (const id of ids)
    if (!started.has(id)) throw new Error(`batch ${id} answered 201 but never started processing`);
  // A group whose answers were lost with the API is posted again and counted duplicate there, so
  // a batch's posts may count fewer new events than it stored, never more.
  for (const record of uploaded) {
    const counted = perBatch.get(record.data.batchId) ?? 0;
    if (counted > (record.data.newEvents ?? 0))
      throw new Error(
        `the posts of batch ${record.data.batchId} counted ${counted} new events, it stored ${record.data.newEvents ?? 0}`,
      );
  }
  return ids;
}

/**
 * Three APIs take posts and uploads of overlapping events at once (every batch processes itself:
 * AUTO_PROCESS_UPLOADS), and one of them is killed while its groups and an upload are in flight.
 */
const threeApisPostingAndUploading: Scenario = {
  name: '3 APIs posting and uploading overlapping events, one killed',
  apis: 3,
  workers: 2,
  env: { AUTO_PROCESS_UPLOADS: 'true', EVENTS_GROUP_WINDOW_MS: '50', UPLOAD_RATE_LIMIT: '1000' },
  async run(world, size, seed) {
    const list = files(size * 2, seed, 3, 0.5);
    const [f0, f1, f2] = list;
    if (f0 === undefined || f1 === undefined || f2 === undefined) throw new Error('no file');
    // Posts carry f0 and f1; uploads of f1 (through the API that is killed) and f2 overlap them.
    const posting = tracked(produce(world, postsOf([f0, f1]), 12, 3));
    const uploading = tracked(
      Promise.all([
        world.uploadUntilStored(f1.name, f1.text, 300_000, 1),
        world.uploadUntilStored(f2.name, f2.text, 300_000, 2),
      ]),
    );
    const distinct = new Set(list.flatMap((f) => f.rows).map((r) => JSON.stringify(r))).size;
    while (!posting.settled() && (await world.storedEvents()) < distinct / 4) await sleep(20);
    if (posting.settled() && uploading.settled())
      world.untested.push('the posts and uploads were all answered before API 1 was killed');
    const fault = world.beginFault('API 1 killed');
    await world.apis[1]?.kill();
    const killedAt = Date.now();
    await world.startApi(1);
    world.endFault(fault);
    const answered = await posting.promise;
    const uploads = await uploading.promise;
    const recoveryMs = Date.now() - killedAt;
    const ids = [
      ...(await autoProcessedAndCounted(world, answered)),
      ...uploads.map((r) => String(r.body.batchId)),
    ];
    await checkEverything(world, list, ids, { processedByThemselves: true });
    return { recoveryMs, note: `${answered.length} posts and 2 uploads in ${new Set(ids).size} batches` };
  },
};

export const postScenarios: Scenario[] = [
  threeApisPostingAndUploading,
  {
    name: 'API killed while posts are grouped in flight',
    // A longer window keeps groups open (and in flight) long enough to be struck.
    env: { EVENTS_GROUP_WINDOW_MS: '50' },
    async run(world, size, seed) {
      const list = files(size * 2, seed, 2, 0.5);
      const bodies = postsOf(list);
      const posting = tracked(produce(world, bodies, 20));
      const distinct = new Set(list.flatMap((f) => f.rows).map((r) => JSON.stringify(r))).size;
      while (!posting.settled() && (await world.storedEvents()) < distinct / 3) await sleep(20);
      if (posting.settled()) world.untested.push('the posts were all answered before the API was killed');
      const fault = world.beginFault('API killed');
      await world.api.kill();
      const killedAt = Date.now();
      await world.startApi();
      world.endFault(fault);
      const answered = await posting.promise;
      const recoveryMs = Date.now() - killedAt;
      const ids = await autoProcessedAndCounted(world, answered);
      await checkEverything(world, list, ids, { processedByThemselves: true });
      return { recoveryMs, note: `${bodies.length} posts in ${ids.length} batches` };
    },
  },
  {
    name: 'worker killed during auto-processing',
    env: { WORKER_CONCURRENCY: '1', EVENTS_PER_CHUNK: '200', EVENTS_GROUP_WINDOW_MS: '50' },
    async run(world, size, seed) {
      const list = files(size * 3, seed, 2, 0.5);
      // Struck while producers still post and the first chunks are counted: posted at once, the
      // batches were all processed before a kill that waited for the last answer.
      const posting = tracked(produce(world, postsOf(list), 10));
      const log = world.db.collection('event_log');
      const deadline = Date.now() + 120_000;
      while (
        !posting.settled() &&
        Date.now() < deadline &&
        (await log.countDocuments({ type: 'EventsProcessed' })) === 0
      )
        await sleep(50);
      if (posting.settled()) world.untested.push('the posts were all answered before the worker was killed');
      await world.workers[0]?.kill();
      const killedAt = Date.now();
      await world.startWorker();
      const answered = await posting.promise;
      const ids = [...new Set(answered.map((a) => String(a.reply.body.batchId)))];
      await waitCompleted(world, ids);
      const recoveryMs = Date.now() - killedAt;
      await autoProcessedAndCounted(world, answered);
      await checkEverything(world, list, ids, { processedByThemselves: true });
      if (!(await processedAfter(world, ids, killedAt)))
        world.untested.push('no chunk was processed after the worker was killed');
      return { recoveryMs, note: `${answered.length} posts in ${ids.length} batches` };
    },
  },
];
