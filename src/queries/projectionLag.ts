import type { Db } from 'mongodb';
import type { EventLog } from '../events/eventLog';
import {
  checkpointId,
  CHECKPOINTS_COLLECTION,
  POINTERS_COLLECTION,
  PROJECTION_NAMES,
  type ProjectionName,
} from '../projections/readModels';

/**
 * How far each live projection trails the event log. Projections record the last log position they
 * applied in `projection_checkpoints` as `{_id: <projection>_v<version>, position}`. Only the version
 * the read side points at counts: a rebuild leaves the version it replaced (and, while it runs, the
 * one it is filling) with a checkpoint that no projector moves any more. A live version without a
 * checkpoint has projected nothing yet, which simply means no lag to report.
 */

interface CheckpointDocument {
  _id: string;
  position: unknown;
}

export interface ProjectionLag {
  projection: string;
  position: number;
  head: number;
  /** head - position, never negative. */
  lag: number;
}

async function liveCheckpointIds(db: Db): Promise<string[]> {
  const pointers = await db
    .collection<{ _id: string; version: unknown }>(POINTERS_COLLECTION)
    .find({})
    .toArray();
  const versions = new Map(pointers.map((p) => [p._id, p.version]));
  // No pointer yet means version 1, the one a projector creates on first use.
  return PROJECTION_NAMES.map((name) => {
    const version = versions.get(name);
    return checkpointId(name, typeof version === 'number' ? version : 1);
  });
}

/**
 * The checkpoint position of the live version of each of `names` (0 when it has none yet): every
 * record up to it is in that read model, as a projector saves its checkpoint after the page's writes.
 */
export async function readLivePositions(
  db: Db,
  names: readonly ProjectionName[],
): Promise<Map<ProjectionName, number>> {
  const live = await liveCheckpointIds(db);
  const ids = names.map((name) => live[PROJECTION_NAMES.indexOf(name)] ?? checkpointId(name, 1));
  // One primary-key read each (an `$in` would make FerretDB scan the collection).
  const docs = await Promise.all(
    ids.map((_id) => db.collection<CheckpointDocument>(CHECKPOINTS_COLLECTION).findOne({ _id })),
  );
  return new Map(
    names.map((name, i) => {
      const position = docs[i]?.position;
      return [name, typeof position === 'number' ? position : 0];
    }),
  );
}

export async function readProjectionLags(db: Db, eventLog: Pick<EventLog, 'head'>): Promise<ProjectionLag[]> {
  const [head, live, checkpoints] = await Promise.all([
    eventLog.head(),
    liveCheckpointIds(db),
    db.collection<CheckpointDocument>(CHECKPOINTS_COLLECTION).find({}).toArray(),
  ]);
  const lags: ProjectionLag[] = [];
  for (const doc of checkpoints) {
    if (!live.includes(doc._id) || typeof doc.position !== 'number') continue;
    lags.push({ projection: doc._id, position: doc.position, head, lag: Math.max(0, head - doc.position) });
  }
  return lags.sort((a, b) => a.projection.localeCompare(b.projection));
}

export interface LagAssessment {
  status: 'ok' | 'lagging';
  projections: { projection: string; lag: number; laggingSeconds: number }[];
}

/**
 * Remembers since when each projection has been over `maxRecords` behind, so a short burst of uploads
 * does not flip /health: only a lag that lasts longer than `maxSeconds` counts. Every sample (health
 * check or metrics scrape) updates the memory; it is per process, which is enough for a health signal.
 */
export function createLagWatch(options: {
  read: () => Promise<ProjectionLag[]>;
  maxRecords: number;
  maxSeconds: number;
  now?: () => number;
}) {
  const now = options.now ?? Date.now;
  const overSince = new Map<string, number>();

  async function sample(): Promise<ProjectionLag[]> {
    const lags = await options.read();
    const at = now();
    const seen = new Set<string>();
    for (const { projection, lag } of lags) {
      seen.add(projection);
      if (lag > options.maxRecords) {
        if (!overSince.has(projection)) overSince.set(projection, at);
      } else {
        overSince.delete(projection);
      }
    }
    for (const projection of overSince.keys()) if (!seen.has(projection)) overSince.delete(projection);
    return lags;
  }

  async function assess(): Promise<LagAssessment> {
    const lags = await sample();
    const at = now();
    const projections = lags.map(({ projection, lag }) => {
      const since = overSince.get(projection);
      return { projection, lag, laggingSeconds: since === undefined ? 0 : Math.floor((at - since) / 1000) };
    });
    const lagging = lags.some(({ projection }) => {
      const since = overSince.get(projection);
      return since !== undefined && at - since > options.maxSeconds * 1000;
    });
    return { status: lagging ? 'lagging' : 'ok', projections };
  }

  return { sample, assess };
}

export type LagWatch = ReturnType<typeof createLagWatch>;
