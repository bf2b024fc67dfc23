import { createHash, randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import type { EventLog } from '../../src/events/eventLog';

/**
 * Stand-in for the upload command until it lands: writes raw events in exactly the contract shape
 * (`_id` = SHA-256 of JSON [userId, eventType, utcMillis]) and appends BatchUploaded through the
 * real event log. Events already stored by an earlier batch count as duplicates, as in ingest.
 */
export interface SeedRow {
  userId: string;
  eventType: string;
  timestamp: Date;
  metadata?: Record<string, unknown>;
}

export function eventKey(row: SeedRow): string {
  return createHash('sha256')
    .update(JSON.stringify([row.userId, row.eventType, row.timestamp.getTime()]))
    .digest('hex');
}

export async function seedBatch(
  db: Db,
  eventLog: EventLog,
  rows: readonly SeedRow[],
  fileName = 'events.csv',
): Promise<{ batchId: string; newEvents: number; duplicates: number }> {
  const batchId = randomUUID();
  const fresh = new Map<string, SeedRow>();
  for (const row of rows) fresh.set(eventKey(row), row);
  const raw = db.collection<{ _id: string }>('raw_events');
  await raw.createIndex({ batchId: 1, _id: 1 }, { name: 'batch_key' });
  const existing = await raw.find({ _id: { $in: [...fresh.keys()] } }, { projection: { _id: 1 } }).toArray();
  for (const doc of existing) fresh.delete(doc._id);
  const docs = [...fresh].map(([key, row]) => ({
    _id: key,
    batchId,
    userId: row.userId,
    eventType: row.eventType,
    timestamp: row.timestamp,
    metadata: row.metadata ?? {},
    idempotencyKey: key,
  }));
  for (let i = 0; i < docs.length; i += 5000) await raw.insertMany(docs.slice(i, i + 5000));
  const newEvents = docs.length;
  await eventLog.append({
    type: 'BatchUploaded',
    key: `BatchUploaded:${batchId}`,
    streamId: `batch:${batchId}`,
    data: {
      batchId,
      fileName,
      totalRows: rows.length,
      newEvents,
      duplicates: rows.length - newEvents,
      eventsPerChunk: null,
    },
    correlationId: `seed-${batchId}`,
  });
  return { batchId, newEvents, duplicates: rows.length - newEvents };
}
