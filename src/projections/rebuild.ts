import { setTimeout as sleep } from 'node:timers/promises';
import type { AnyLogRecord } from '../events/eventLog';
import { tryAcquireLease } from './lease';
import type { Projection } from './projection';
import { countPage, LogMemory } from '../events/corrections';
import {
  applyPage,
  ensureReadModel,
  fenceAboveCheckpoint,
  PAGE_SIZE,
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
    await replayAll(deps, prepared, report);
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
  return { projection, live, next, target, records: 0 };
}

/** One pass over the log (one query), each page applied to every new version and checkpointed there. */
async function replayAll(
  deps: ProjectorDeps,
  prepared: readonly Prepared[],
  report: (p: Prepared, position: number, count: number) => void,
): Promise<void> {
  // One pass from the first record: the memory knows every batch, so the log is read once.
  const memory = new LogMemory();
  const apply = async (page: AnyLogRecord[]): Promise<void> => {
    const last = page.at(-1);
    if (last === undefined) return;
    const counted = await countPage(deps.eventLog, page, memory);
    // Every new version side by side: each has its own collection and checkpoint.
    await Promise.all(
      prepared.map(async (p) => {
        await applyPage(p.target, counted);
        await saveCheckpoint(deps.db, p.target.checkpointId, last.position, 0);
        report(p, last.position, page.length);
      }),
    );
  };
  let page: AnyLogRecord[] = [];
  for await (const record of deps.eventLog.readAll(1, PAGE_SIZE)) {
    page.push(record);
    if (page.length === PAGE_SIZE) {
      await apply(page);
      page = [];
    }
  }
  await apply(page);
}

/** Under the projector's lease: applies what was appended meanwhile, then switches the pointer. */
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
  try {
    const checkpoint = await fenceAboveCheckpoint(db, held, target.checkpointId);
    await projectInto(db, eventLog, target, {
      checkpoint,
      fence: held.fence,
      guard: () => {
        held.assertHeld();
      },
      onPage: (position, count) => {
        report(p, position, count);
      },
    });
    if (!(await switchVersion(db, projection.name, live, next))) {
      throw new RebuildBusyError(`read-model pointer of ${projection.name}`);
    }
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
