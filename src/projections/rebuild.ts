import { setTimeout as sleep } from 'node:timers/promises';
import type { AnyLogRecord } from '../events/eventLog';
import { tryAcquireLease, type ProjectorLease } from './lease';
import type { Projection } from './projection';
import { ReadModelMemory } from './readModelMemory';
import { replaceStamp } from './readModelStamps';
import { isBrokenCollection } from '../mongo';
import { countPage, LogMemory } from '../events/corrections';
import {
  applyRememberedPage,
  ensureReadModel,
  fenceAboveCheckpoint,
  PAGE_SIZE,
  WRITTEN_MEMORY_BYTES,
  projectInto,
  targetFor,
  tryAcquireProjectionLease,
  type ProjectionTarget,
  type ProjectorDeps,
} from './projector';
import {
  collectionName,
  checkpointId,
  liveVersion,
  readCheckpoint,
  resetCheckpoint,
  saveCheckpoint,
  switchVersion,
} from './readModels';

export interface RebuildProgress {
  projection: string;
  /** Position reached and the log's head when the rebuild began. */
  position: number;
  head: number;
  records: number;
}

export interface RebuildResult {
  projection: string;
  from: number;
  to: number;
  records: number;
}

export class RebuildBusyError extends Error {
  constructor(what: string) {
    super(`${what} is busy: another rebuild or projector holds it; try again shortly`);
  }
}

const LEASE_WAIT_MS = 60_000;

interface Prepared {
  projection: Projection;
  live: number;
  next: number;
  target: ProjectionTarget;
  /** What the replay wrote into the new version, which starts empty (see ReadModelMemory). */
  written: ReadModelMemory;
  records: number;
}

/**
 * Replays the whole log into a fresh version of each read model, then switches the read side to it.
 * The long replay reads the log once for every read model and runs without the projectors' leases
 * (nobody else writes the new versions); only the final catch-up and the one-document switch hold a
 * projector's lease, so the live projector pauses just briefly.
 */
export async function rebuildProjections(
  deps: ProjectorDeps,
  projections: readonly Projection[],
  onProgress: (progress: RebuildProgress) => void = () => undefined,
): Promise<RebuildResult[]> {
  const rebuildLease = await tryAcquireLease(deps.redis, deps.prefix, 'rebuild-projections', 60_000);
  if (rebuildLease === undefined) throw new RebuildBusyError('rebuild-projections');
  // The log's first page is asked for while the new versions are prepared: FerretDB answers only
  // once it has read every record the query returns (docs/performance.md).
  const pages = pagesOf(deps.eventLog.readAll(1, PAGE_SIZE));
  const firstPage = pages.next();
  // Its failure is reported where it is awaited (replayAll), unless preparing failed first.
  firstPage.catch(() => undefined);
  try {
    const prepared: Prepared[] = [];
    for (const projection of projections) prepared.push(await prepare(deps, projection));
    // From the live checkpoints the head is a few probes away; from position 0 it is many
    // primary-key probes on a long log (docs/performance.md).
    const checkpoints = await Promise.all(
      prepared.map((p) => readCheckpoint(deps.db, checkpointId(p.projection.name, p.live))),
    );
    const head = await deps.eventLog.head(Math.max(0, ...checkpoints));
    const report = (p: Prepared, position: number, count: number): void => {
      p.records += count;
      onProgress({ projection: p.projection.name, position, head, records: p.records });
    };
    await replayAll(deps, prepared, { pages, next: firstPage }, report);
    // Each under its own projector's lease, side by side; every one ends (and lets its lease go)
    // before a failure is reported.
    const finished = await Promise.allSettled(prepared.map((p) => finish(deps, p, report)));
    const results: RebuildResult[] = [];
    for (const outcome of finished) {
      if (outcome.status === 'rejected') throw outcome.reason;
      results.push(outcome.value);
    }
    return results;
  } finally {
    // Closes the log's cursor when preparing or the replay failed (otherwise the pages are done).
    await pages.return(undefined).catch(() => undefined);
    await rebuildLease.release();
  }
}

async function prepare(deps: ProjectorDeps, projection: Projection): Promise<Prepared> {
  const { db } = deps;
  const live = await liveVersion(db, projection.name);
  const next = live + 1;
  const target = targetFor(db, projection, next);
  // Leftovers of an interrupted rebuild of the same version.
  await db
    .collection(target.collectionName)
    .drop()
    .catch(() => undefined);
  await resetCheckpoint(db, target.checkpointId);
  await ensureReadModel(db, projection, target.collectionName);
  const written = new ReadModelMemory(WRITTEN_MEMORY_BYTES);
  written.startEmpty(target.collectionName, 1);
  return { projection, live, next, target, written, records: 0 };
}

/** A replay page holds up to this many records, and up to this many processed events. */
const REPLAY_PAGE_RECORDS = 5_000;
const REPLAY_PAGE_EVENTS = 1_000_000;

/**
 * One pass over the log (one query), each page applied to every new version and checkpointed there.
 * Pages are long (a document is written once per page that touches it), bounded by the events
 * they hold, which is what planning a page costs in memory. Each version starts empty and
 * remembers what it wrote (nobody else writes it), so a page reads nothing back and need not ask
 * for the documents it is the first to write; the next page is read while this one is applied (the
 * first while the versions are prepared).
 */
async function replayAll(
  deps: ProjectorDeps,
  prepared: readonly Prepared[],
  log: { pages: AsyncGenerator<AnyLogRecord[]>; next: Promise<IteratorResult<AnyLogRecord[]>> },
  report: (p: Prepared, position: number, count: number) => void,
): Promise<void> {
  // One pass from the first record: the memory knows every batch, so the log is read once.
  const memory = new LogMemory();
  const apply = async (page: AnyLogRecord[]): Promise<void> => {
    const first = page[0]?.position;
    const last = page.at(-1)?.position;
    if (first === undefined || last === undefined) return;
    const counted = await countPage(deps.eventLog, page, memory);
    // Every new version side by side: each has its own collection and checkpoint.
    await Promise.all(
      prepared.map(async (p) => {
        await applyRememberedPage(p.target, counted, first, p.written);
        await saveCheckpoint(deps.db, p.target.checkpointId, last, 0);
        p.written.endPage(last + 1);
        report(p, last, page.length);
      }),
    );
  };
  const { pages } = log;
  let { next } = log;
  try {
    for (;;) {
      const read = await next;
      if (read.done === true) return;
      next = pages.next();
      await apply(read.value);
    }
  } catch (error) {
    // The read ahead's failure is not the one to report; the caller closes the pages.
    await next.catch(() => undefined);
    throw error;
  }
}

/** The records in replay pages (the last one shorter, never empty). */
async function* pagesOf(records: AsyncIterable<AnyLogRecord>): AsyncGenerator<AnyLogRecord[]> {
  let page: AnyLogRecord[] = [];
  let events = 0;
  for await (const record of records) {
    page.push(record);
    if (record.type === 'EventsProcessed') events += record.data.events;
    if (page.length === REPLAY_PAGE_RECORDS || events >= REPLAY_PAGE_EVENTS) {
      yield page;
      page = [];
      events = 0;
    }
  }
  if (page.length > 0) yield page;
}

/**
 * Brings the version queries read until the switch to the position the new one reached, so that
 * answers from either are as current (should this process stop between the switch and the stamp
 * replaced after it, see readModelStamps). Usually nothing is left to apply: its projector was
 * following the log until this lease was taken. A live version that can no longer be written (the
 * recovery of a broken collection) stays where it is.
 */
async function catchUpLiveVersion(
  deps: ProjectorDeps,
  { projection, live }: Prepared,
  options: { lease: ProjectorLease; guard: () => void; stamp: () => Promise<void>; until: number },
): Promise<void> {
  const target = targetFor(deps.db, projection, live);
  try {
    await ensureReadModel(deps.db, projection, target.collectionName);
    const checkpoint = await fenceAboveCheckpoint(deps.db, options.lease, target.checkpointId);
    await projectInto(deps.db, deps.eventLog, target, {
      checkpoint,
      fence: options.lease.fence,
      guard: options.guard,
      replaceStamp: options.stamp,
      until: options.until,
    });
  } catch (error) {
    if (!isBrokenCollection(error)) throw error;
  }
}

/**
 * Under the projector's lease: applies what was appended meanwhile, brings the live version to the
 * same position, switches the pointer and replaces the read model's stamp.
 */
async function finish(
  deps: ProjectorDeps,
  p: Prepared,
  report: (p: Prepared, position: number, count: number) => void,
): Promise<RebuildResult> {
  const { db, eventLog } = deps;
  const { projection, live, next, target } = p;
  const deadline = Date.now() + LEASE_WAIT_MS;
  let lease = await tryAcquireProjectionLease(deps, projection.name);
  while (lease === undefined) {
    if (Date.now() > deadline) throw new RebuildBusyError(`projection ${projection.name}`);
    await sleep(100);
    lease = await tryAcquireProjectionLease(deps, projection.name);
  }
  const held = lease;
  const guard = (): void => {
    held.assertHeld();
  };
  const stamp = (): Promise<void> => replaceStamp(deps.redis, deps.prefix, projection.name);
  try {
    const reached = await projectInto(db, eventLog, target, {
      checkpoint: await fenceAboveCheckpoint(db, held, target.checkpointId),
      fence: held.fence,
      guard,
      onPage: (position, count) => {
        report(p, position, count);
      },
    });
    await catchUpLiveVersion(deps, p, { lease: held, guard, stamp, until: reached });
    if (!(await switchVersion(db, projection.name, live, next))) {
      throw new RebuildBusyError(`read-model pointer of ${projection.name}`);
    }
    await stamp();
  } finally {
    await held.release();
  }
  // Keep the version just replaced (queries may still be reading it); drop the one before it.
  if (live > 1) {
    await db
      .collection(collectionName(projection.name, live - 1))
      .drop()
      .catch(() => undefined);
    await resetCheckpoint(db, checkpointId(projection.name, live - 1));
  }
  return { projection: projection.name, from: live, to: next, records: p.records };
}
