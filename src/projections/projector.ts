import type { RedisClient } from '../redis';
import type { Db } from 'mongodb';
import type { EventLog } from '../events/eventLog';
import { countPage, LogMemory, type CountedRecord } from '../events/corrections';
import type { Logger } from '../logging';
import { forEachInFlight } from '../forEachInFlight';
import { ensureCollections, isBrokenCollection } from '../mongo';
import { tryAcquireLease, type ProjectorLease } from './lease';
import type { Projection, Report } from './projection';
import { ReadModelMemory, StaleReadModelMemoryError } from './readModelMemory';
import { replaceStamp } from './readModelStamps';
import {
  recordProjectionFailure,
  recordProjectionHealthy,
  recordProjectionRecovering,
} from './projectionStatus';
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
/** A page's read-model writes in flight at once. */
const WRITES_AT_ONCE = 8;

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

/** Runs the writes of one page of counted records, in order, checking the lease before each. */
export async function applyPage(
  target: ProjectionTarget,
  page: readonly CountedRecord[],
  guard?: () => void,
  report?: Report,
  memory?: ReadModelMemory,
): Promise<void> {
  const writes = await target.projection.planPage(target.db, target.collectionName, page, report, memory);
  // Each write is to a document of its own and conditional on what was read, so they go side by
  // side; the checkpoint is saved only after all of them landed. After a failure no write starts,
  // and the error is thrown once those in flight have settled (the lease is still held for them).
  await forEachInFlight(writes, WRITES_AT_ONCE, async (write) => {
    guard?.();
    await write();
  });
}

/**
 * applyPage for a writer that remembers what it wrote (see ReadModelMemory): a page planned from a
 * memory another writer outdated is planned again, from the database (the memory, begun again
 * without having ended, starts afresh). The caller ends the page once its checkpoint is saved.
 */
export async function applyRememberedPage(
  target: ProjectionTarget,
  page: readonly CountedRecord[],
  first: number,
  written: ReadModelMemory,
  guard?: () => void,
  report?: Report,
): Promise<void> {
  for (;;) {
    written.startPage(target.collectionName, first);
    try {
      await applyPage(target, page, guard, report, written);
      return;
    } catch (error) {
      if (!(error instanceof StaleReadModelMemoryError)) throw error;
    }
  }
}

/**
 * Applies the log from the target's checkpoint to the head, saving the checkpoint after each page;
 * returns the position reached. `guard` runs before every write: the lease check that stops a
 * writer who lost its lease.
 */
export async function projectInto(
  db: Db,
  eventLog: EventLog,
  target: ProjectionTarget,
  options: {
    fence: number;
    guard?: () => void;
    onPage?: (position: number, count: number, durationMs: number) => void;
    /** Only the live projector's: see Report. */
    report?: Report;
    /** What this reader saw of earlier pages (see LogMemory). */
    memory?: LogMemory;
    /** What this writer wrote on earlier pages (see ReadModelMemory). */
    written?: ReadModelMemory;
    /** The target's checkpoint, when the caller has just read it under the lease. */
    checkpoint?: number;
    /**
     * Run after a page's writes, before its checkpoint is saved: a version queries read replaces its
     * stamp there (see readModelStamps). A version nobody reads yet needs none.
     */
    replaceStamp?: () => Promise<void>;
    /** Stops at this position (a rebuild brings two versions to the same one). */
    until?: number;
  },
): Promise<number> {
  let from = (options.checkpoint ?? (await readCheckpoint(db, target.checkpointId))) + 1;
  const { until = Number.POSITIVE_INFINITY } = options;
  for (;;) {
    const started = Date.now();
    const limit = Math.min(PAGE_SIZE, until - from + 1);
    const page = limit > 0 ? await eventLog.readFrom(from, limit) : [];
    options.guard?.();
    const { written } = options;
    const counted = await countPage(eventLog, page, options.memory);
    if (written === undefined) await applyPage(target, counted, options.guard, options.report);
    else await applyRememberedPage(target, counted, from, written, options.guard, options.report);
    const last = page.at(-1);
    if (last === undefined) return from - 1;
    options.guard?.();
    await options.replaceStamp?.();
    await saveCheckpoint(db, target.checkpointId, last.position, options.fence);
    written?.endPage(last.position + 1);
    options.onPage?.(last.position, page.length, Date.now() - started);
    from = last.position + 1;
    if (page.length < limit || last.position >= until) return last.position;
  }
}

export interface ProjectorDeps {
  db: Db;
  eventLog: EventLog;
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  /** Rebuilds one read model into a fresh version (given by the composition root: rebuild.ts). */
  recover?: (projection: Projection) => Promise<void>;
}

export function leaseName(projection: ProjectionName): string {
  return `projection:${projection}`;
}

export function tryAcquireProjectionLease(
  deps: ProjectorDeps,
  projection: ProjectionName,
): Promise<ProjectorLease | undefined> {
  return tryAcquireLease(deps.redis, deps.prefix, leaseName(projection));
}

/**
 * Keeps the lease's fence above the one stored with the checkpoint (Redis may have lost its
 * counter); returns the checkpoint's position.
 */
export async function fenceAboveCheckpoint(db: Db, lease: ProjectorLease, id: string): Promise<number> {
  const stored = await db
    .collection<{ _id: string; fence?: number; position?: number }>(CHECKPOINTS_COLLECTION)
    .findOne({ _id: id });
  if (stored?.fence !== undefined && stored.fence >= lease.fence) await lease.raiseFence(stored.fence + 1);
  return stored?.position ?? 0;
}

/**
 * Creates a read model's collection and indexes before its first write: a write that creates the
 * collection on the fly can leave it half-created if the database dies meanwhile (FerretDB).
 */
export async function ensureReadModel(db: Db, projection: Projection, name: string): Promise<void> {
  await ensureCollections(db, [name]);
  await projection.ensureIndexes(db, name);
}

/** The read-model documents a projector keeps in memory at most (a busy month's series documents fit). */
export const WRITTEN_MEMORY_BYTES = 64 * 1024 * 1024;

/** How often a projector that has not failed itself looks whether another left a failure on record. */
const STATUS_RECHECK_MS = 30_000;

/**
 * Brings the live read model of one projection up to the head of the log as it was when called,
 * and says whether more was appended meanwhile: the caller (the projection worker) then runs it
 * again, after a short pause that lets a stream of appends gather into one page. Only the holder of
 * the projection's lease writes; a caller that cannot get it returns at once (false), because the
 * holder looks at the head again after releasing and so sees whatever was appended meanwhile.
 *
 * Failures are put on record for /health. A live collection that FerretDB can no longer write to
 * (half-created by a crash) is left behind: `recover` rebuilds the read model into a fresh version.
 */
export function createProjector(deps: ProjectorDeps, projection: Projection) {
  const prepared = new Set<number>();
  let statusCheckedAt = 0;
  // Across catch-ups: they forget by themselves when another process applied pages in between.
  const memory = new LogMemory();
  const written = new ReadModelMemory(WRITTEN_MEMORY_BYTES);

  /** One pass to the head; true when more was appended meanwhile (the caller runs it again). */
  async function catchUpOnce(): Promise<boolean> {
    const lease = await tryAcquireProjectionLease(deps, projection.name);
    if (lease === undefined) return false;
    let reached: number;
    try {
      // Read the live version under the lease: a rebuild switches it while holding the same lease.
      const target = targetFor(deps.db, projection, await liveVersion(deps.db, projection.name));
      const checkpoint = await fenceAboveCheckpoint(deps.db, lease, target.checkpointId);
      if (!prepared.has(target.version)) {
        await ensureReadModel(deps.db, projection, target.collectionName);
        prepared.add(target.version);
      }
      reached = await projectInto(deps.db, deps.eventLog, target, {
        checkpoint,
        fence: lease.fence,
        guard: () => {
          lease.assertHeld();
        },
        report: (message, fields) => {
          deps.logger.info(message, { projection: projection.name, ...fields });
        },
        memory,
        written,
        replaceStamp: () => replaceStamp(deps.redis, deps.prefix, projection.name),
        onPage: (position, records, durationMs) => {
          deps.logger.debug('page projected', {
            projection: projection.name,
            position,
            records,
            durationMs,
          });
        },
      });
    } finally {
      await lease.release();
    }
    // Appended meanwhile? (A rebuild that switched versions since then is caught up itself.)
    return deps.eventLog.has(reached + 1);
  }

  return async function catchUp(): Promise<boolean> {
    let behind: boolean;
    try {
      behind = await catchUpOnce();
    } catch (error) {
      statusCheckedAt = 0;
      await recordProjectionFailure(deps.db, projection.name, error).catch(() => undefined);
      if (!isBrokenCollection(error)) throw error;
      if (deps.recover === undefined) throw error;
      deps.logger.error('the read model cannot be written any more; rebuilding it into a fresh version', {
        projection: projection.name,
        err: error,
      });
      await recordProjectionRecovering(deps.db, projection.name, 'rebuilding into a fresh version');
      await deps.recover(projection);
      behind = false;
    }
    if (Date.now() - statusCheckedAt > STATUS_RECHECK_MS) {
      await recordProjectionHealthy(deps.db, projection.name);
      statusCheckedAt = Date.now();
    }
    return behind;
  };
}

export type CatchUp = ReturnType<typeof createProjector>;
