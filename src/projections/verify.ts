import type { Db } from 'mongodb';
import type { EventLog } from '../events/eventLog';
import { RawEventForCounting, utcDate } from '../events/rawEventChunks';
import { RAW_EVENTS_COLLECTION } from '../events/rawEvents';
import { evolveBatchStatus, type BatchStatusDoc } from './batchStatus';
import { flattenDailyMetrics, type DailyMetricsDoc } from './dailyMetrics';
import { liveCollection } from './readModels';

/**
 * Recounts both read models without the projectors: daily metrics straight from the raw events of
 * every chunk the log says was processed, batch status by folding the log. Returns one line per
 * difference from the live read models (empty when they agree). Meant for a quiet moment: records
 * appended while it runs show up as differences.
 */

interface BatchFacts {
  eventsPerChunk: number | undefined;
  processed: Map<number, number>;
}

export interface Recount {
  /** Count per JSON [date, eventType]. */
  metrics: Map<string, number>;
  /** Raw events in the processed chunks of each batch. */
  processedEvents: Map<string, number>;
}

export async function recountFromRawEvents(db: Db, eventLog: EventLog): Promise<Recount> {
  const batches = new Map<string, BatchFacts>();
  for await (const record of eventLog.readAll()) {
    const facts = batches.get(record.data.batchId) ?? { eventsPerChunk: undefined, processed: new Map() };
    batches.set(record.data.batchId, facts);
    if (record.type === 'BatchProcessingStarted') facts.eventsPerChunk ??= record.data.eventsPerChunk;
    if (record.type === 'EventsProcessed') facts.processed.set(record.data.chunk, record.data.events);
  }
  const counts = new Map<string, number>();
  const processedEvents = new Map<string, number>();
  for (const [batchId, facts] of batches) {
    if (facts.processed.size === 0) continue;
    const size = facts.eventsPerChunk;
    if (size === undefined) throw new Error(`batch ${batchId} has processed chunks but no processing round`);
    const events = await db
      .collection<{ _id: string }>(RAW_EVENTS_COLLECTION)
      .find({ batchId }, { projection: { _id: 1, eventType: 1, timestamp: 1 }, sort: { _id: 1 } })
      .toArray();
    events.forEach((doc, index) => {
      if (!facts.processed.has(Math.floor(index / size))) return;
      processedEvents.set(batchId, (processedEvents.get(batchId) ?? 0) + 1);
      const event = RawEventForCounting.parse(doc);
      const key = JSON.stringify([utcDate(event.timestamp), event.eventType]);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    });
  }
  return { metrics: counts, processedEvents };
}

export async function foldBatchStatuses(eventLog: EventLog): Promise<Map<string, BatchStatusDoc>> {
  const states = new Map<string, BatchStatusDoc>();
  for await (const record of eventLog.readAll()) {
    const next = evolveBatchStatus(states.get(record.data.batchId) ?? null, record);
    if (next !== null) states.set(record.data.batchId, next);
  }
  return states;
}

const BATCH_FIELDS = [
  'fileName',
  'totalEvents',
  'processedEvents',
  'status',
  'uploadedAt',
  'processedAt',
  'failedReason',
  'uploadedPosition',
] as const;

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

export async function verifyReadModels(db: Db, eventLog: EventLog): Promise<string[]> {
  const differences: string[] = [];

  const recount = await recountFromRawEvents(db, eventLog);
  const expected = recount.metrics;
  const days = await (await liveCollection<DailyMetricsDoc>(db, 'dailyMetrics')).find({}).toArray();
  const actual = new Map(
    [...flattenDailyMetrics(days)]
      .filter((m) => m.count !== 0)
      .map((m) => [JSON.stringify([m.date, m.eventType]), m.count]),
  );
  for (const key of new Set([...expected.keys(), ...actual.keys()])) {
    const want = expected.get(key) ?? 0;
    const got = actual.get(key) ?? 0;
    if (want !== got) differences.push(`daily metrics ${key}: read model has ${got}, recount gives ${want}`);
  }

  const states = await foldBatchStatuses(eventLog);
  const docs = await (await liveCollection<BatchStatusDoc>(db, 'batchStatus')).find({}).toArray();
  const byId = new Map(docs.map((d) => [d._id, d]));
  for (const [batchId, want] of states) {
    const got = byId.get(batchId);
    if (got === undefined) {
      differences.push(`batch ${batchId}: missing from the read model`);
      continue;
    }
    const raw = recount.processedEvents.get(batchId) ?? 0;
    if (got.processedEvents !== raw) {
      differences.push(
        `batch ${batchId} processedEvents: read model has ${got.processedEvents}, raw events give ${raw}`,
      );
    }
    for (const field of BATCH_FIELDS) {
      if (!same(got[field], want[field])) {
        differences.push(
          `batch ${batchId} ${field}: read model has ${JSON.stringify(got[field])}, log gives ${JSON.stringify(want[field])}`,
        );
      }
    }
  }
  for (const batchId of byId.keys()) {
    if (!states.has(batchId)) differences.push(`batch ${batchId}: in the read model but not in the log`);
  }
  return differences;
}
