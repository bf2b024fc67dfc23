import type { Collection, Db, Document } from 'mongodb';
import { isDuplicateKey } from '../mongo';

/**
 * Read models live in versioned collections (`daily_metrics_v3`); one small pointer document per
 * projection names the live version, so a rebuild fills a fresh version and switches to it with a
 * single-document update while queries keep reading the old one.
 */

export type ProjectionName = 'dailyMetrics' | 'batchStatus' | 'metricSeries';

export const PROJECTION_NAMES: readonly ProjectionName[] = ['dailyMetrics', 'batchStatus', 'metricSeries'];

const COLLECTION_BASE: Record<ProjectionName, string> = {
  dailyMetrics: 'daily_metrics',
  batchStatus: 'batch_status',
  metricSeries: 'metric_series',
};

export const POINTERS_COLLECTION = 'read_model_pointers';
export const CHECKPOINTS_COLLECTION = 'projection_checkpoints';

interface PointerDoc {
  _id: ProjectionName;
  version: number;
  switchedAt: Date;
}

interface CheckpointDoc {
  _id: string;
  position: number;
  fence: number;
  updatedAt: Date;
}

export function collectionName(projection: ProjectionName, version: number): string {
  return `${COLLECTION_BASE[projection]}_v${version}`;
}

/** The live version of a projection; version 1 is created on first use. */
export async function liveVersion(db: Db, projection: ProjectionName): Promise<number> {
  const pointers = db.collection<PointerDoc>(POINTERS_COLLECTION);
  const found = await pointers.findOne({ _id: projection });
  if (found !== null) return found.version;
  try {
    await pointers.insertOne({ _id: projection, version: 1, switchedAt: new Date() });
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    return liveVersion(db, projection);
  }
  return 1;
}

export async function liveCollection<T extends Document>(
  db: Db,
  projection: ProjectionName,
): Promise<Collection<T>> {
  return db.collection<T>(collectionName(projection, await liveVersion(db, projection)));
}

/** Points the read side at `to` if it still points at `from`; false when someone else switched it. */
export async function switchVersion(
  db: Db,
  projection: ProjectionName,
  from: number,
  to: number,
): Promise<boolean> {
  const result = await db
    .collection<PointerDoc>(POINTERS_COLLECTION)
    .updateOne({ _id: projection, version: from }, { $set: { version: to, switchedAt: new Date() } });
  return result.modifiedCount === 1;
}

export function checkpointId(projection: ProjectionName, version: number): string {
  return `${projection}_v${version}`;
}

export async function readCheckpoint(db: Db, id: string): Promise<number> {
  const doc = await db.collection<CheckpointDoc>(CHECKPOINTS_COLLECTION).findOne({ _id: id });
  return doc?.position ?? 0;
}

export class StaleWriterError extends Error {
  constructor(id: string, fence: number) {
    super(`projection ${id}: a writer with a newer fence than ${fence} has taken over`);
  }
}

/**
 * Saves how far a projection got. The fence token from the lease makes a writer that lost its lease
 * (e.g. paused past its expiry) fail here instead of moving the checkpoint of its successor.
 */
export async function saveCheckpoint(db: Db, id: string, position: number, fence: number): Promise<void> {
  try {
    await db
      .collection<CheckpointDoc>(CHECKPOINTS_COLLECTION)
      .updateOne(
        { _id: id, fence: { $lte: fence } },
        { $set: { position, fence, updatedAt: new Date() } },
        { upsert: true },
      );
  } catch (error) {
    if (isDuplicateKey(error)) throw new StaleWriterError(id, fence);
    throw error;
  }
}

export async function resetCheckpoint(db: Db, id: string): Promise<void> {
  await db.collection<CheckpointDoc>(CHECKPOINTS_COLLECTION).deleteOne({ _id: id });
}
