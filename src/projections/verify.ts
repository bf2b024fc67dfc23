import type { Db } from 'mongodb';
import { BATCH_CLAIMS_COLLECTION } from '../commands/uploadBatch/batchClaims';
import type { EventLog } from '../events/eventLog';
import { utcDate } from '../events/dailyCounts';
import { RawEventForCounting } from '../events/deriveChunks';
import { readAllChunks } from '../events/readChunks';
import { rawEventsCollection } from '../events/rawEvents';
import { evolveBatchStatus, type BatchStatusDoc } from './batchStatus';
import { CorrectionsFold } from '../events/corrections';
import { dayLayoutProblems, flattenDailyMetrics, wholeDays, type DailyMetricsDoc } from './dailyMetrics';
import { liveCollection } from './readModels';
import { SeriesRecount } from './verifySeries';

/**
 * Checks the read models without the projectors, in three independent comparisons:
 * 1. daily metrics and the metric series against a recount of exactly the chunks the log says were
 *    processed and not retracted, read from the chunk documents as they are now (an erasure took
 *    its user out of them), not from the counts the log carries;
 * 2. each batch's chunk documents against its raw events (what the upload cut against what it stored);
 * 3. batch status against a fold of the log.
 * Returns one line per difference (empty when everything agrees). It reads the log, the chunks and
 * the raw events once each, so it suits a quiet moment: records appended meanwhile show up as differences.
 */

/** Where a verify is: the step it is on and the documents read in that step so far. */
export interface VerifyProgress {
  step: 'the log' | 'the chunk documents' | 'the read models' | 'the raw events' | 'the batch status';
  read: number;
}

type OnProgress = (progress: VerifyProgress) => void;

/** Told at each step's start and every this many documents within it. */
const PROGRESS_EVERY = 1000;

/** Counts per JSON [date, eventType]. */
type Counts = Map<string, number>;

const keyOf = (date: string, eventType: string): string => JSON.stringify([date, eventType]);

function add(counts: Counts, key: string, n = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + n);
}

interface LogFacts {
  states: Map<string, BatchStatusDoc>;
  /** Per batch, its processed chunks. */
  processed: Map<string, Set<number>>;
  /** Batches whose upload wrote their chunk documents (BatchUploaded v2); older ones get them when processed. */
  chunkedAtUpload: Set<string>;
}

async function foldLog(eventLog: EventLog, onProgress: OnProgress): Promise<LogFacts> {
  const states = new Map<string, BatchStatusDoc>();
  const processed = new Map<string, Set<number>>();
  const chunkedAtUpload = new Set<string>();
  const corrections = new CorrectionsFold();
  const retracted = new Set<string>();
  let read = 0;
  onProgress({ step: 'the log', read });
  for await (const record of eventLog.readAll()) {
    if (++read % PROGRESS_EVERY === 0) onProgress({ step: 'the log', read });
    const { batchId } = record.data;
    if (record.type === 'BatchUploaded' && record.data.eventsPerChunk !== null) chunkedAtUpload.add(batchId);
    const next = evolveBatchStatus(states.get(batchId) ?? null, record, corrections.next(record));
    if (next !== null) states.set(batchId, next);
    if (record.type === 'EventsProcessed' && !retracted.has(batchId)) {
      const chunks = processed.get(batchId) ?? new Set<number>();
      chunks.add(record.data.chunk);
      processed.set(batchId, chunks);
    }
    // What remains of a retracted batch counts nowhere (its documents are deleted after the record).
    if (record.type === 'BatchRetracted') {
      retracted.add(batchId);
      processed.set(batchId, new Set());
    }
  }
  return { states, processed, chunkedAtUpload };
}

/** Every batch's chunk contents, and the recount of the processed ones. */
async function recountChunks(db: Db, facts: LogFacts, onProgress: OnProgress) {
  const processedCounts: Counts = new Map();
  const processedEvents = new Map<string, number>();
  const chunkCounts = new Map<string, Counts>();
  const uncountable: string[] = [];
  const series = new SeriesRecount();
  let read = 0;
  onProgress({ step: 'the chunk documents', read });
  for await (const { batchId, chunk, events } of readAllChunks(db)) {
    // A chunk document holds thousands of events: told every few.
    if (++read % (PROGRESS_EVERY / 100) === 0) onProgress({ step: 'the chunk documents', read });
    const isProcessed = facts.processed.get(batchId)?.has(chunk) === true;
    series.startChunk();
    const perBatch = chunkCounts.get(batchId) ?? new Map<string, number>();
    chunkCounts.set(batchId, perBatch);
    for (const event of events) {
      if (event === null) {
        uncountable.push(`batch ${batchId} chunk ${chunk}: holds an event that cannot be counted`);
        continue;
      }
      const key = keyOf(utcDate(new Date(event[1])), event[0]);
      add(perBatch, key);
      if (!isProcessed) continue;
      add(processedCounts, key);
      const user = event[2];
      if (user !== undefined) series.add(event[0], event[1], user);
      else uncountable.push(`batch ${batchId} chunk ${chunk}: processed with users its chunk does not hold`);
      processedEvents.set(batchId, (processedEvents.get(batchId) ?? 0) + 1);
    }
  }
  return { processedCounts, processedEvents, chunkCounts, uncountable, series };
}

async function countRawEvents(db: Db, onProgress: OnProgress): Promise<Map<string, Counts>> {
  const perBatch = new Map<string, Counts>();
  let read = 0;
  onProgress({ step: 'the raw events', read });
  const cursor = rawEventsCollection(db).find(
    {},
    { projection: { _id: 1, batchId: 1, userId: 1, eventType: 1, timestamp: 1 }, batchSize: 5000 },
  );
  for await (const doc of cursor) {
    if (++read % PROGRESS_EVERY === 0) onProgress({ step: 'the raw events', read });
    const counts = perBatch.get(doc.batchId) ?? new Map<string, number>();
    perBatch.set(doc.batchId, counts);
    const event = RawEventForCounting.safeParse(doc);
    add(counts, event.success ? keyOf(utcDate(event.data.timestamp), event.data.eventType) : 'uncountable');
  }
  return perBatch;
}

function compareCounts(label: string, got: Counts, want: Counts, names: [string, string]): string[] {
  const differences: string[] = [];
  for (const key of new Set([...want.keys(), ...got.keys()])) {
    const a = got.get(key) ?? 0;
    const b = want.get(key) ?? 0;
    if (a !== b) differences.push(`${label} ${key}: ${names[0]} has ${a}, ${names[1]} ${b}`);
  }
  return differences;
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
  'firstDay',
  'lastDay',
  'processingStartedAt',
  'retractedAt',
  'retractionReason',
] as const;

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

async function compareBatchStatus(
  db: Db,
  facts: LogFacts,
  processedEvents: Map<string, number>,
): Promise<string[]> {
  const differences: string[] = [];
  const docs = await (await liveCollection<BatchStatusDoc>(db, 'batchStatus')).find({}).toArray();
  const byId = new Map(docs.map((d) => [d._id, d]));
  for (const [batchId, want] of facts.states) {
    const got = byId.get(batchId);
    if (got === undefined) {
      differences.push(`batch ${batchId}: missing from the read model`);
      continue;
    }
    const recounted = processedEvents.get(batchId) ?? 0;
    // A retracted batch keeps the processedEvents it had: its chunks are gone, the history is not.
    if (want.status !== 'retracted' && got.processedEvents !== recounted) {
      differences.push(
        `batch ${batchId} processedEvents: read model has ${got.processedEvents}, its processed chunks hold ${recounted}`,
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
    if (!facts.states.has(batchId))
      differences.push(`batch ${batchId}: in the read model but not in the log`);
  }
  return differences;
}

export async function verifyReadModels(
  db: Db,
  eventLog: EventLog,
  onProgress: OnProgress = () => undefined,
): Promise<string[]> {
  const facts = await foldLog(eventLog, onProgress);
  const chunks = await recountChunks(db, facts, onProgress);
  const differences: string[] = [...chunks.uncountable];

  onProgress({ step: 'the read models', read: 0 });
  const days = await (await liveCollection<DailyMetricsDoc>(db, 'dailyMetrics')).find({}).toArray();
  differences.push(...dayLayoutProblems(days));
  const live: Counts = new Map();
  for (const m of flattenDailyMetrics(wholeDays(days)))
    if (m.count !== 0) live.set(keyOf(m.date, m.eventType), m.count);
  differences.push(
    ...compareCounts('daily metrics', live, chunks.processedCounts, ['read model', 'recount gives']),
  );

  differences.push(...(await chunks.series.compare(db)));

  const raw = await countRawEvents(db, onProgress);
  const storing = new Set(
    (
      await db
        .collection<{ _id: string }>(BATCH_CLAIMS_COLLECTION)
        .find({}, { projection: { _id: 1 } })
        .toArray()
    ).map((s) => s._id),
  );
  for (const batchId of new Set([...raw.keys(), ...chunks.chunkCounts.keys()])) {
    if (!facts.states.has(batchId)) {
      // An upload still storing (or stopped, before the sweep resolved its claim) has events but no BatchUploaded.
      if (!storing.has(batchId)) differences.push(`batch ${batchId}: has stored events but never committed`);
      continue;
    }
    const chunked = chunks.chunkCounts.has(batchId) || facts.chunkedAtUpload.has(batchId);
    if (!chunked) continue; // uploaded before chunk documents existed and not processed since
    differences.push(
      ...compareCounts(
        `batch ${batchId} events`,
        chunks.chunkCounts.get(batchId) ?? new Map<string, number>(),
        raw.get(batchId) ?? new Map<string, number>(),
        ['its chunks', 'its raw events'],
      ),
    );
  }

  onProgress({ step: 'the batch status', read: 0 });
  differences.push(...(await compareBatchStatus(db, facts, chunks.processedEvents)));
  return differences;
}
