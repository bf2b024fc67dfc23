import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import type { Db } from 'mongodb';
import { ensureRawEventIndexes, eventKey, rawEventsCollection, type RawEvent } from '../src/events/rawEvents';

/**
 * The database's own floor: the distinct events of the CSV written straight into the same server
 * with the driver's insertMany (same collection shape and indexes), no HTTP, no validation, no queue.
 */
export async function measureFloor(db: Db, csvPath: string): Promise<{ seconds: number; documents: number }> {
  await db.dropDatabase();
  await ensureRawEventIndexes(db);
  const docs = new Map<string, RawEvent>();
  const parser = createReadStream(csvPath).pipe(parse({ columns: true }));
  for await (const row of parser as AsyncIterable<Record<string, string>>) {
    const userId = row.userId ?? '';
    const eventType = row.eventType ?? '';
    const timestamp = new Date(row.timestamp ?? '');
    const key = eventKey(userId, eventType, timestamp.getTime());
    const metadata = JSON.parse(row.metadata ?? '{}') as Record<string, unknown>;
    docs.set(key, {
      _id: key,
      batchId: 'floor',
      insertGroup: 0,
      userId,
      eventType,
      timestamp,
      metadata,
    });
  }
  const all = [...docs.values()];
  const events = rawEventsCollection(db);
  const started = process.hrtime.bigint();
  for (let i = 0; i < all.length; i += 1000) {
    await events.insertMany(all.slice(i, i + 1000), { ordered: false });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await db.dropDatabase();
  return { seconds, documents: all.length };
}
