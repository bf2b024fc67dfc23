import { setTimeout as sleep } from 'node:timers/promises';
import { processBatch } from './checks';
import { csvFile, prng, rowsOf, type CsvFile } from './workload';
import type { World } from './world';

/**
 * When a scenario strikes and whether it struck in time: the workload's files, and waits for the
 * moment an upload or processing is in flight, read from the database and the event log.
 */

/** How long a dependency stays down: 5 to 15 s, from the run's seed. */
export function outageMs(seed: number): number {
  return 5000 + Math.floor(prng(seed ^ 0x5eed)() * 10_000);
}

/** A promise that can say whether it has settled yet: an upload killed after its answer missed. */
export function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  void promise.finally(() => (done = true)).catch(() => undefined);
  return { promise, settled: () => done };
}

/** Waits until at least `events` raw events are stored (a bounded wait), to strike mid-upload. */
export async function whenStored(
  world: World,
  events: number,
  upload: { settled: () => boolean },
): Promise<boolean> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !upload.settled()) {
    if ((await world.storedEvents().catch(() => 0)) >= events) return !upload.settled();
    await sleep(20);
  }
  return false;
}

interface ChunkProgress {
  done: number;
  left: number;
}

/** Chunks of these batches the log shows processed, and those planned but not yet processed. */
export async function chunkProgress(world: World, batchIds: readonly string[]): Promise<ChunkProgress> {
  const log = world.db.collection<{
    type: string;
    data: { batchId: string; chunk?: number; chunks?: number };
  }>('event_log');
  const filter = { 'data.batchId': { $in: [...batchIds] } };
  const starts = await log.find({ ...filter, type: 'BatchProcessingStarted', 'data.round': 1 }).toArray();
  const done = new Set(
    // Without their details (the bulk of each record): this poll runs every 50 ms beside the work.
    (
      await log
        .find({ ...filter, type: 'EventsProcessed' }, { projection: { 'data.batchId': 1, 'data.chunk': 1 } })
        .toArray()
    ).map((r) => `${r.data.batchId}:${r.data.chunk ?? -1}`),
  );
  const planned = starts.reduce((n, r) => n + (r.data.chunks ?? 0), 0);
  // A batch whose processing has not started yet still has all of its work ahead.
  const unstarted = batchIds.length - new Set(starts.map((r) => r.data.batchId)).size;
  return { done: done.size, left: planned - done.size + unstarted };
}

/** Waits until more than `after` chunks are processed while some are still left; undefined once none are. */
export async function whenProcessing(
  world: World,
  batchIds: readonly string[],
  after = 0,
): Promise<number | undefined> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    const { done, left } = await chunkProgress(world, batchIds);
    if (left === 0 || Date.now() > deadline) return undefined;
    if (done > after) return done;
    await sleep(50);
  }
}

/** Whether processing went on after `at`: only then did a kill at `at` strike work in flight. */
export async function processedAfter(
  world: World,
  batchIds: readonly string[],
  at: number,
): Promise<boolean> {
  const later = await world.db.collection('event_log').countDocuments({
    type: 'EventsProcessed',
    'data.batchId': { $in: [...batchIds] },
    'metadata.recordedAt': { $gte: new Date(at) },
  });
  return later > 0;
}

export async function processAll(world: World, batchIds: readonly string[]): Promise<void> {
  for (const id of batchIds) await processBatch(world, id);
}

export function files(size: number, seed: number, count: number, overlap = 0.5): CsvFile[] {
  const step = Math.floor(size * (1 - overlap));
  return Array.from({ length: count }, (_, i) =>
    csvFile(`f${i}.csv`, rowsOf(i * step, size, seed + i + 1, seed)),
  );
}

export async function uploadAll(world: World, list: readonly CsvFile[]): Promise<string[]> {
  const ids: string[] = [];
  for (const f of list) ids.push((await world.uploadUntilStored(f.name, f.text)).body.batchId as string);
  return ids;
}
