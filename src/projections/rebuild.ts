import { setTimeout as sleep } from 'node:timers/promises';
import { tryAcquireLease } from './lease';
import type { Projection } from './projection';
import {
  fenceAboveCheckpoint,
  projectInto,
  targetFor,
  tryAcquireProjectionLease,
  type ProjectorDeps,
} from './projector';
import { collectionName, checkpointId, liveVersion, resetCheckpoint, switchVersion } from './readModels';

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

/**
 * Replays the whole log into a fresh version of each read model, then switches the read side to it.
 * The long replay runs without the projector's lease (nobody else writes the new version); only the
 * final catch-up and the one-document switch hold it, so the live projector pauses just briefly.
 */
export async function rebuildProjections(
  deps: ProjectorDeps,
  projections: readonly Projection[],
  onProgress: (progress: RebuildProgress) => void = () => undefined,
): Promise<RebuildResult[]> {
  const rebuildLease = await tryAcquireLease(deps.redis, deps.prefix, 'rebuild-projections', 60_000);
  if (rebuildLease === undefined) throw new RebuildBusyError('rebuild-projections');
  try {
    const results: RebuildResult[] = [];
    for (const projection of projections) results.push(await rebuildOne(deps, projection, onProgress));
    return results;
  } finally {
    await rebuildLease.release();
  }
}

async function rebuildOne(
  deps: ProjectorDeps,
  projection: Projection,
  onProgress: (progress: RebuildProgress) => void,
): Promise<RebuildResult> {
  const { db, eventLog } = deps;
  const live = await liveVersion(db, projection.name);
  const next = live + 1;
  const target = targetFor(db, projection, next);
  // Leftovers of an interrupted rebuild of the same version.
  await db
    .collection(target.collectionName)
    .drop()
    .catch(() => undefined);
  await resetCheckpoint(db, target.checkpointId);
  await projection.ensureIndexes(db, target.collectionName);

  const head = await eventLog.head();
  let records = 0;
  const report = (position: number, count: number): void => {
    records += count;
    onProgress({ projection: projection.name, position, head, records });
  };
  await projectInto(db, eventLog, target, { fence: 0, onPage: report });

  const deadline = Date.now() + LEASE_WAIT_MS;
  let lease = await tryAcquireProjectionLease(deps, projection.name);
  while (lease === undefined) {
    if (Date.now() > deadline) throw new RebuildBusyError(`projection ${projection.name}`);
    await sleep(100);
    lease = await tryAcquireProjectionLease(deps, projection.name);
  }
  const held = lease;
  try {
    await fenceAboveCheckpoint(db, held, target.checkpointId);
    await projectInto(db, eventLog, target, {
      fence: held.fence,
      guard: () => {
        held.assertHeld();
      },
      onPage: report,
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
  return { projection: projection.name, from: live, to: next, records };
}
