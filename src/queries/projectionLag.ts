import type { Db } from 'mongodb';
import type { EventLog } from '../events/eventLog';

/**
 * How far each projection trails the event log. Projections record the last log position they applied
 * in `projection_checkpoints` as `{_id: <projectionName>, position}`; the collection may not exist yet
 * (nothing projected), which simply means no lag to report.
 */

export const PROJECTION_CHECKPOINTS_COLLECTION = 'projection_checkpoints';

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

export async function readProjectionLags(db: Db, eventLog: Pick<EventLog, 'head'>): Promise<ProjectionLag[]> {
  const [head, checkpoints] = await Promise.all([
    eventLog.head(),
    db.collection<CheckpointDocument>(PROJECTION_CHECKPOINTS_COLLECTION).find({}).toArray(),
  ]);
  const lags: ProjectionLag[] = [];
  for (const doc of checkpoints) {
    if (typeof doc._id !== 'string' || typeof doc.position !== 'number') continue;
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
