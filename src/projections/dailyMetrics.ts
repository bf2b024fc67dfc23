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

/**
 * Adds each `EventsProcessed` count to its day. Every write is conditional on the document's
 * `lastPosition`, so replaying a record (after a crash between two writes, say) adds nothing twice.
 */
export const dailyMetricsProjection: Projection = {
  name: 'dailyMetrics',

  async ensureIndexes(db: Db, collectionName: string) {
    await db
      .collection<DailyMetricDoc>(collectionName)
      .createIndex({ date: 1, eventType: 1 }, { name: 'date_eventType' });
  },

  planWrites(db: Db, collectionName: string, record: AnyLogRecord): Write[] {
    if (record.type !== 'EventsProcessed') return [];
    const collection = db.collection<DailyMetricDoc>(collectionName);
    const position = record.position;
    return record.data.counts.map(({ date, eventType, count }) => async () => {
      const _id = dailyMetricId(date, eventType);
      try {
        await collection.updateOne(
          { _id, lastPosition: { $lt: position } },
          { $inc: { count }, $set: { lastPosition: position }, $setOnInsert: { date, eventType } },
          { upsert: true },
        );
      } catch (error) {
        // The document exists with lastPosition >= position: this record is already in it.
        if (!isDuplicateKey(error)) throw error;
      }
    });
  },
};
