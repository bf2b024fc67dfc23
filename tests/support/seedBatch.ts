import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { newSpoolPath, removeSpool, SpoolWriter } from '../../src/commands/uploadBatch/spool';
import { createUploadBatchFor, type Runtime } from '../../src/compose';
import { batchKeys } from '../../src/events/batchHistory';
import type { EventLog } from '../../src/events/eventLog';
import { eventKey as contractKey } from '../../src/events/rawEvents';

/**
 * Stores rows as a batch through the real UploadBatch command (batch claim, raw events, chunk
 * documents, BatchUploaded), skipping only the CSV parsing: the rows go straight into its spool.
 */
export interface SeedRow {
  userId: string;
  eventType: string;
  timestamp: Date;
  metadata?: Record<string, unknown>;
}

/** The event key of a row, written out independently of the code under test. */
export function eventKey(row: SeedRow): string {
  return createHash('sha256')
    .update(JSON.stringify([row.userId, row.eventType, row.timestamp.getTime()]))
    .digest('hex');
}

/** The rows as the spool a validated upload leaves (the caller removes it). */
export async function writeSpool(rows: readonly SeedRow[]): Promise<string> {
  const spoolPath = newSpoolPath(tmpdir());
  const spool = new SpoolWriter(spoolPath);
  for (const row of rows) {
    const timestamp = row.timestamp.getTime();
    const key = contractKey(row.userId, row.eventType, timestamp);
    if (key !== eventKey(row)) throw new Error('the event key no longer follows the contract');
    await spool.write({
      key,
      userId: row.userId,
      eventType: row.eventType,
      timestamp,
      metadata: row.metadata ?? {},
    });
  }
  await spool.close();
  return spoolPath;
}

export async function seedBatch(
  runtime: Runtime,
  rows: readonly SeedRow[],
  fileName = 'events.csv',
): Promise<{ batchId: string; newEvents: number; duplicates: number }> {
  const spoolPath = await writeSpool(rows);
  try {
    const upload = createUploadBatchFor(runtime);
    return await upload({ spoolPath, fileName, totalRows: rows.length, correlationId: `seed-${fileName}` });
  } finally {
    await removeSpool(spoolPath);
  }
}

/** Appends only a batch's BatchUploaded record (no events): a record every projection moves over. */
export async function appendBatchUploaded(eventLog: EventLog, batchId: string): Promise<void> {
  await eventLog.append({
    type: 'BatchUploaded',
    key: batchKeys.uploaded(batchId),
    streamId: `batch:${batchId}`,
    data: { batchId, fileName: 'a.csv', totalRows: 1, newEvents: 1, duplicates: 0, eventsPerChunk: 5000 },
    correlationId: 'test-appended-0001',
  });
}
