import type { Db } from 'mongodb';
import type { ProjectionName } from './readModels';

/**
 * What each projector last ran into, shared through the database so /health in any API process can
 * say that a projection keeps failing (and why) instead of reporting it `ok` while it stands still.
 * One small document per projection; written only when the state changes or a failure repeats.
 */

export const PROJECTION_STATUS_COLLECTION = 'projection_status';

export interface ProjectionStatusDoc {
  _id: ProjectionName;
  /** When the current run of failures began; null while the projector succeeds. */
  failingSince: Date | null;
  failures: number;
  lastError: string | null;
  /** Set while the projector rebuilds its read model into a fresh version to get past a broken one. */
  recovering: string | null;
  updatedAt: Date;
}

function statuses(db: Db) {
  return db.collection<ProjectionStatusDoc>(PROJECTION_STATUS_COLLECTION);
}

export async function recordProjectionFailure(db: Db, name: ProjectionName, error: unknown): Promise<void> {
  const message = (error instanceof Error ? error.message : String(error)).slice(0, 500);
  const current = await statuses(db).findOne({ _id: name });
  await statuses(db).replaceOne(
    { _id: name },
    {
      failingSince: current?.failingSince ?? new Date(),
      failures: (current?.failures ?? 0) + 1,
      lastError: message,
      recovering: current?.recovering ?? null,
      updatedAt: new Date(),
    },
    { upsert: true },
  );
}

export async function recordProjectionRecovering(
  db: Db,
  name: ProjectionName,
  reason: string | null,
): Promise<void> {
  await statuses(db).updateOne(
    { _id: name },
    { $set: { recovering: reason, updatedAt: new Date() } },
    { upsert: true },
  );
}

/** Clears a run of failures; cheap when there was none (one read). */
export async function recordProjectionHealthy(db: Db, name: ProjectionName): Promise<void> {
  const current = await statuses(db).findOne({ _id: name });
  if (current === null || (current.failingSince === null && current.recovering === null)) return;
  await statuses(db).updateOne(
    { _id: name },
    { $set: { failingSince: null, failures: 0, lastError: null, recovering: null, updatedAt: new Date() } },
  );
}

export function readProjectionStatuses(db: Db): Promise<ProjectionStatusDoc[]> {
  return statuses(db).find({}).toArray();
}
