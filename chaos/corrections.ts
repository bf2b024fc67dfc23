import { setTimeout as sleep } from 'node:timers/promises';
import { checkEverything } from './checks';
import { files, processAll, tracked, uploadAll, whenProcessing } from './strike';
import { csvFile, distinctRows, type CsvFile } from './workload';
import type { World } from './world';
import type { Scenario } from './scenarios';

/**
 * Taking data back out under faults: a retraction and an erasure, each struck in the middle by
 * killing the API that runs it and the worker processing the batches it touches. The client does
 * what a client would (asks again until it has an answer); the checks recount what remains.
 */

/** Waits until the log holds a record of `type` for `batchId` (or any batch), bounded. */
async function whenRecorded(world: World, type: string, batchId?: string): Promise<boolean> {
  const log = world.db.collection('event_log');
  const filter = batchId === undefined ? { type } : { type, 'data.batchId': batchId };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await log.countDocuments(filter)) > 0) return true;
    await sleep(10);
  }
  return false;
}

/**
 * Kills the API and the worker, runs `whileDown` (what the kill found: nothing moves until the
 * restart, so a look afterwards costs the moment nothing), then starts them again.
 */
async function killApiAndWorker(world: World, name: string, whileDown: () => Promise<void>): Promise<number> {
  const fault = world.beginFault(name);
  await Promise.all([world.api.kill(), world.workers[0]?.kill()]);
  const killedAt = Date.now();
  await whileDown();
  await Promise.all([world.startApi(), world.startWorker()]);
  world.endFault(fault);
  return killedAt;
}

const retraction: Scenario = {
  name: 'retraction with the API and the worker killed mid-way',
  env: { EVENTS_PER_CHUNK: '200', WORKER_CONCURRENCY: '1' },
  async run(world, size, seed) {
    const list = files(size, seed, 3, 0);
    const [f0, f1, f2] = list;
    if (f0 === undefined || f1 === undefined || f2 === undefined) throw new Error('no file');
    const ids = await uploadAll(world, list);
    const retractedId = ids[1] ?? '';
    await processAll(world, ids);
    if ((await whenProcessing(world, ids)) === undefined)
      world.untested.push('processing was over before the retraction');
    const path = `/api/batches/${retractedId}/retract`;
    const first = tracked(world.admin('POST', path, { reason: 'chaos: wrong file' }, 0));
    // Struck once the retraction is decided (its record is in the log) and its clean-up may still run.
    if (!(await whenRecorded(world, 'BatchRetracted', retractedId)))
      world.untested.push('the retraction was never recorded before the kill');
    let rawLeft = 0;
    const killedAt = await killApiAndWorker(world, 'API and worker killed mid-retraction', async () => {
      rawLeft = await world.db.collection('raw_events').countDocuments({ batchId: retractedId });
      if (rawLeft === 0) world.untested.push("the retraction's clean-up was over before the API was killed");
    });
    await first.promise;
    const again = await world.admin('POST', path, { reason: 'chaos: wrong file' });
    if (again.status !== 200)
      throw new Error(`retract answered ${again.status}: ${JSON.stringify(again.body)}`);
    await checkEverything(world, [f0, f2], ids, { retracted: [retractedId] });
    const recoveryMs = Date.now() - killedAt;
    // The same file again: its events are stored and counted anew.
    const reupload = await world.uploadUntilStored(f1.name, f1.text);
    // The file repeats some of its own rows: those are its only duplicates now.
    const unique = distinctRows([f1]).length;
    if (reupload.body.totalEvents !== unique || reupload.body.duplicates !== f1.rows.length - unique)
      throw new Error(`the re-upload after the retraction answered ${JSON.stringify(reupload.body)}`);
    await checkEverything(world, list, [ids[0] ?? '', ids[2] ?? '', String(reupload.body.batchId)], {
      retracted: [retractedId],
    });
    return { recoveryMs, note: `${rawLeft} raw events of the batch left at the kill` };
  },
};

/**
 * The files with one user in about one row in 20 (the same rows in every file, so the files still
 * overlap): every chunk of every batch holds them, and the erasure lasts long enough to be struck
 * mid-way (a user of a few rows was erased before the kill on a quiet machine).
 */
const ERASED_USER = 'user-erased';
function withErasedUser(list: readonly CsvFile[]): CsvFile[] {
  return list.map((f) =>
    csvFile(
      f.name,
      f.rows.map((r) => (r.at % 20 === 0 ? { ...r, userId: ERASED_USER } : r)),
    ),
  );
}

const erasure: Scenario = {
  name: 'erasure with the API and the worker killed mid-way',
  env: { EVENTS_PER_CHUNK: '100', WORKER_CONCURRENCY: '1' },
  async run(world, size, seed) {
    // Five files: after its first batch's UserErased (the moment of the kill) the erasure still has
    // four batches to go, each with the user in every chunk.
    const list = withErasedUser(files(size, seed, 5, 0.5));
    const userId = ERASED_USER;
    const ids = await uploadAll(world, list);
    await processAll(world, ids);
    if ((await whenProcessing(world, ids)) === undefined)
      world.untested.push('processing was over before the erasure');
    const first = tracked(world.admin('POST', '/api/users/erase', { userId }, 0));
    if (!(await whenRecorded(world, 'UserErased')))
      world.untested.push('the erasure recorded nothing before the kill');
    const erasures = world.db.collection<{ state?: string }>('user_erasures');
    const killedAt = await killApiAndWorker(world, 'API and worker killed mid-erasure', async () => {
      if ((await erasures.countDocuments({ state: 'done' })) > 0)
        world.untested.push('the erasure was over before the API was killed');
    });
    const answer = await first.promise;
    // Without an answer, asking again finds the erasure that runs (or one that removes nothing more).
    let id = String(answer.status === 200 || answer.status === 202 ? answer.body.erasureId : '');
    if (id === '') id = String((await world.admin('POST', '/api/users/erase', { userId })).body.erasureId);
    const deadline = Date.now() + 180_000;
    for (;;) {
      const reply = await world.admin('GET', `/api/users/erasures/${id}`);
      if (reply.body.status === 'done') break;
      if (Date.now() > deadline) throw new Error(`the erasure never finished: ${JSON.stringify(reply.body)}`);
      await sleep(300);
    }
    const remaining = list.map((f) =>
      csvFile(
        f.name,
        f.rows.filter((r) => r.userId !== userId),
      ),
    );
    await checkEverything(world, remaining, ids);
    const left = await world.db.collection('raw_events').countDocuments({ userId });
    if (left !== 0) throw new Error(`${left} raw events of the erased user are still stored`);
    return {
      recoveryMs: Date.now() - killedAt,
      note: `${list.flatMap((f) => f.rows).filter((r) => r.userId === userId).length} rows of the user`,
    };
  },
};

export const correctionScenarios: Scenario[] = [retraction, erasure];
