import type { Db } from 'mongodb';
import type { AnyLogRecord } from '../events/eventLog';
import { isDuplicateKey } from '../mongo';
import type { Projection, Write } from './projection';

/** One document per (UTC date, eventType); `_id` encodes both unambiguously. */
export interface DailyMetricDoc {
  _id: string;
  date: string;
  eventType: string;
  count: number;
  lastPosition: number;
}

export function dailyMetricId(date: string, eventType: string): string {
  return JSON.stringify([date, eventType]);
}

interface Contributions {
  date: string;
  eventType: string;
  /** In position order, as the page is. */
  parts: { position: number; count: number }[];
}

function collectContributions(records: readonly AnyLogRecord[]): Map<string, Contributions> {
  const byDoc = new Map<string, Contributions>();
  for (const record of records) {
    if (record.type !== 'EventsProcessed') continue;
    for (const { date, eventType, count } of record.data.counts) {
      const id = dailyMetricId(date, eventType);
      let entry = byDoc.get(id);
      if (entry === undefined) {
        entry = { date, eventType, parts: [] };
        byDoc.set(id, entry);
      }
      entry.parts.push({ position: record.position, count });
    }
  }
  return byDoc;
}

/**
 * Adds the `EventsProcessed` counts of a page to their days: one conditional upsert per day and
 * event type. Only contributions after the document's `lastPosition` are added, and the write
 * requires `lastPosition` to still be below the first of them, so replaying a page adds nothing twice.
 */
export const dailyMetricsProjection: Projection = {
  name: 'dailyMetrics',

  async ensureIndexes(db: Db, collectionName: string) {
    await db
      .collection<DailyMetricDoc>(collectionName)
      .createIndex({ date: 1, eventType: 1 }, { name: 'date_eventType' });
  },

  async planPage(db: Db, collectionName: string, records: readonly AnyLogRecord[]): Promise<Write[]> {
    const byDoc = collectContributions(records);
    if (byDoc.size === 0) return [];
    const collection = db.collection<DailyMetricDoc>(collectionName);
    const applied = new Map<string, number>();
    const current = collection.find({ _id: { $in: [...byDoc.keys()] } }, { projection: { lastPosition: 1 } });
    for await (const doc of current) applied.set(doc._id, doc.lastPosition);

    const writes: Write[] = [];
    for (const [_id, { date, eventType, parts }] of byDoc) {
      const after = applied.get(_id) ?? 0;
      const pending = parts.filter((p) => p.position > after);
      const first = pending[0];
      const last = pending.at(-1);
      if (first === undefined || last === undefined) continue;
      const count = pending.reduce((sum, p) => sum + p.count, 0);
      writes.push(async () => {
        try {
          await collection.updateOne(
            { _id, lastPosition: { $lt: first.position } },
            { $inc: { count }, $set: { lastPosition: last.position }, $setOnInsert: { date, eventType } },
            { upsert: true },
          );
        } catch (error) {
          // The document exists with lastPosition >= first: these records are already in it.
          if (!isDuplicateKey(error)) throw error;
        }
      });
    }
    return writes;
  },
};
