import type { Db } from 'mongodb';
import type { BatchStatusDoc } from '../../src/projections/batchStatus';
import { flattenDailyMetrics, type DailyMetricsDoc } from '../../src/projections/dailyMetrics';
import {
  CHECKPOINTS_COLLECTION,
  liveCollection,
  liveVersion,
  PROJECTION_NAMES,
} from '../../src/projections/readModels';
import type { EventLog } from '../../src/events/eventLog';
import { eventKey, type SeedRow } from './seedBatch';
import { waitFor } from './waitFor';

/** Counts per JSON [UTC date, eventType] straight from the rows a test uploaded (deduplicated). */
export function recountRows(rows: Iterable<SeedRow>): Map<string, number> {
  const unique = new Map<string, SeedRow>();
  for (const row of rows) unique.set(eventKey(row), row);
  const counts = new Map<string, number>();
  for (const row of unique.values()) {
    const key = JSON.stringify([row.timestamp.toISOString().slice(0, 10), row.eventType]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export async function liveMetrics(db: Db): Promise<Map<string, number>> {
  const days = await (await liveCollection<DailyMetricsDoc>(db, 'dailyMetrics')).find({}).toArray();
  return new Map(
    [...flattenDailyMetrics(days)]
      .filter((d) => d.count !== 0)
      .map((d) => [JSON.stringify([d.date, d.eventType]), d.count]),
  );
}

export async function liveBatches(db: Db): Promise<BatchStatusDoc[]> {
  return (await liveCollection<BatchStatusDoc>(db, 'batchStatus')).find({}).sort({ _id: 1 }).toArray();
}

/** Waits until both live projections have applied the whole log. */
export async function projectionsCaughtUp(db: Db, eventLog: EventLog, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => {
      const head = await eventLog.head();
      const positions = await Promise.all(
        PROJECTION_NAMES.map(async (name) => {
          const id = `${name}_v${await liveVersion(db, name)}`;
          const doc = await db
            .collection<{ _id: string; position: number }>(CHECKPOINTS_COLLECTION)
            .findOne({ _id: id });
          return doc?.position ?? 0;
        }),
      );
      return positions.every((p) => p >= head);
    },
    (ok) => ok,
    timeoutMs,
    'projections to reach the head of the log',
  );
}

export function sorted(map: Map<string, number>): [string, number][] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
