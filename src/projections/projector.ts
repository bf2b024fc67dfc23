import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { AnyLogRecord, EventLog } from '../events/eventLog';
import type { Logger } from '../logging';
import { tryAcquireLease, type Lease } from './lease';
import type { Projection } from './projection';
import {
  checkpointId,
  collectionName,
  liveVersion,
  readCheckpoint,
  saveCheckpoint,
  CHECKPOINTS_COLLECTION,
  type ProjectionName,
} from './readModels';

export const PAGE_SIZE = 500;

export interface ProjectionTarget {
  db: Db;
  projection: Projection;
  version: number;
  collectionName: string;
  checkpointId: string;
}

export function targetFor(db: Db, projection: Projection, version: number): ProjectionTarget {
  return {
    db,
    projection,
    version,
    collectionName: collectionName(projection.name, version),
    checkpointId: checkpointId(projection.name, version),
  };
}

/** Runs the writes of one page of records, in order, checking the lease before each. */
export async function applyPage(
  target: ProjectionTarget,
  records: readonly AnyLogRecord[],
  guard?: () => void,
): Promise<void> {
  const writes = await target.projection.planPage(target.db, target.collectionName, records);
  for (const write of writes) {
    guard?.();
    await write();
  }
}

/**
 * Applies the log from the target's checkpoint to the head, saving the checkpoint after each page.
 * `guard` runs before every write: the lease check that stops a writer who lost its lease.
 */
export async function projectInto(
  db: Db,
  eventLog: EventLog,
  target: ProjectionTarget,
  options: { fence: number; guard?: () => void; onPage?: (position: number, count: number) => void },
): Promise<number> {
  let from = (await readCheckpoint(db, target.checkpointId)) + 1;
  let applied = 0;
  for (;;) {
    const page = await eventLog.readFrom(from, PAGE_SIZE);
    options.guard?.();
    await applyPage(target, page, options.guard);
    const last = page.at(-1);
    if (last === undefined) return applied;
    options.guard?.();
    await saveCheckpoint(db, target.checkpointId, last.position, options.fence);
    applied += page.length;
    options.onPage?.(last.position, page.length);
    from = last.position + 1;
    if (page.length < PAGE_SIZE) return applied;
  }
}

export interface ProjectorDeps {
  db: Db;
  eventLog: EventLog;
  redis: Redis;
  prefix: string;
  logger: Logger;
}

export function leaseName(projection: ProjectionName): string {
  return `projection:${projection}`;
}

export function tryAcquireProjectionLease(
  deps: ProjectorDeps,
  projection: ProjectionName,
): Promise<Lease | undefined> {
  return tryAcquireLease(deps.redis, deps.prefix, leaseName(projection));
}

/** Keeps the lease's fence above the one stored with the checkpoint (Redis may have lost its counter). */
export async function fenceAboveCheckpoint(db: Db, lease: Lease, id: string): Promise<void> {
  const stored = await db
    .collection<{ _id: string; fence?: number }>(CHECKPOINTS_COLLECTION)
    .findOne({ _id: id });
  if (stored?.fence !== undefined && stored.fence >= lease.fence) await lease.raiseFence(stored.fence + 1);
}

/**
 * Brings the live read model of one projection up to the head of the log. Only the holder of the
 * projection's lease writes; a caller that cannot get it returns at once, because the holder looks
 * at the head again after releasing and so sees whatever was appended meanwhile.
 */
export function createProjector(deps: ProjectorDeps, projection: Projection) {
  const indexed = new Set<number>();
  return async function catchUp(): Promise<number> {
    let total = 0;
    for (;;) {
      const lease = await tryAcquireProjectionLease(deps, projection.name);
      if (lease === undefined) return total;
      try {
        // Read the live version under the lease: a rebuild switches it while holding the same lease.
        const target = targetFor(deps.db, projection, await liveVersion(deps.db, projection.name));
        await fenceAboveCheckpoint(deps.db, lease, target.checkpointId);
        if (!indexed.has(target.version)) {
          await projection.ensureIndexes(deps.db, target.collectionName);
          indexed.add(target.version);
        }
        total += await projectInto(deps.db, deps.eventLog, target, {
          fence: lease.fence,
          guard: () => {
            lease.assertHeld();
          },
        });
      } finally {
        await lease.release();
      }
      const live = await liveVersion(deps.db, projection.name);
      const checkpoint = await readCheckpoint(deps.db, checkpointId(projection.name, live));
      if ((await deps.eventLog.head()) <= checkpoint) return total;
    }
  };
}

export type CatchUp = ReturnType<typeof createProjector>;
