import { batchStream, correctionsStream } from './batchHistory';
import { detailOf, forEachDetailCount, type ChunkDetail } from './chunkDetail';
import type { AnyLogRecord, EventLog, LogRecord } from './eventLog';

/**
 * What a record changes in the counts, once retractions and erasures are taken into account: a
 * list of chunk details, each added (+1) or withdrawn (-1). Every read model counts from these, so
 * they all agree, and a rebuild (which replays the same records) gives the same answer.
 *
 * - EventsProcessed of chunk c read at revision r: + its detail, unless its batch was retracted
 *   before; - the `withdrawn` of every earlier UserErased of c at a revision above r (the chunk was
 *   read before that erasure rewrote it).
 * - BatchRetracted: - what every earlier EventsProcessed of the batch still counts (its detail,
 *   less what erasures already withdrew from it); a second retraction of a batch changes nothing.
 * - UserErased: for each chunk it names whose EventsProcessed came earlier, at a lower revision,
 *   - the user's `withdrawn` detail; nothing for a retracted batch.
 * Unique users stay exact because the series keeps, per (quarter-hour, user, type), how many
 * counted chunks hold it (see seriesMonth): a withdrawn detail lowers exactly those.
 */

export interface Effect {
  sign: 1 | -1;
  detail: ChunkDetail;
  /** The events the detail holds. */
  events: number;
}

export interface CountedRecord {
  record: AnyLogRecord;
  effects: Effect[];
}

interface Processed {
  revision: number;
  detail: ChunkDetail;
  events: number;
}

interface Erasure {
  position: number;
  chunks: Map<number, { revision: number; withdrawn: ChunkDetail }>;
}

interface BatchFacts {
  retracted: boolean;
  processed: Map<number, Processed>;
  erasures: Erasure[];
}

/** Every record of one batch, its own stream and its corrections, in position order. */
export async function readBatchRecords(eventLog: EventLog, batchId: string): Promise<AnyLogRecord[]> {
  const streams = await Promise.all([
    eventLog.readStream(batchStream(batchId)),
    eventLog.readStream(correctionsStream(batchId)),
  ]);
  // The stream id is a convention; the data's batchId is what counts.
  return streams
    .flat()
    .filter((record) => record.data.batchId === batchId)
    .sort((a, b) => a.position - b.position);
}

/** The events an erasure took out of its batch, counted or not. */
export function eventsErasedBy(record: LogRecord<'UserErased'>): number {
  return record.data.chunks.reduce((sum, c) => sum + eventsIn(c.withdrawn), 0);
}

/** The events a detail holds: the sum of its counts. */
export function eventsIn(detail: ChunkDetail): number {
  let events = 0;
  forEachDetailCount(detail, (_type, _quarter, count) => {
    events += count;
  });
  return events;
}

const withdraw = (withdrawn: ChunkDetail, sign: 1 | -1): Effect => ({
  sign,
  detail: withdrawn,
  events: eventsIn(withdrawn),
});

/**
 * Folds the log, one record at a time in position order, into what each record changes. Pure: the
 * projector feeds it the records that matter for a page (see countPage), verify the whole log.
 */
export class CorrectionsFold {
  private readonly batches = new Map<string, BatchFacts>();

  private factsOf(batchId: string): BatchFacts {
    let facts = this.batches.get(batchId);
    if (facts === undefined) {
      facts = { retracted: false, processed: new Map(), erasures: [] };
      this.batches.set(batchId, facts);
    }
    return facts;
  }

  /** What `record` changes, given every relevant record before it; then remembers it. */
  next(record: AnyLogRecord): Effect[] {
    switch (record.type) {
      case 'EventsProcessed':
        return this.processed(record);
      case 'BatchRetracted':
        return this.retracted(record);
      case 'UserErased':
        return this.erased(record);
      default:
        return [];
    }
  }

  private processed(record: LogRecord<'EventsProcessed'>): Effect[] {
    const { batchId, chunk, revision, detail, events } = record.data;
    const facts = this.factsOf(batchId);
    if (facts.retracted || facts.processed.has(chunk)) return [];
    facts.processed.set(chunk, { revision, detail, events });
    const effects: Effect[] = [{ sign: 1, detail, events }];
    for (const erasure of facts.erasures) {
      const erased = erasure.chunks.get(chunk);
      if (erased !== undefined && erased.revision > revision) effects.push(withdraw(erased.withdrawn, -1));
    }
    return effects;
  }

  private retracted(record: LogRecord<'BatchRetracted'>): Effect[] {
    const facts = this.factsOf(record.data.batchId);
    if (facts.retracted) return [];
    facts.retracted = true;
    const effects: Effect[] = [];
    for (const [chunk, { revision, detail, events }] of facts.processed) {
      effects.push({ sign: -1, detail, events });
      for (const erasure of facts.erasures) {
        const erased = erasure.chunks.get(chunk);
        if (erased !== undefined && erased.revision > revision) effects.push(withdraw(erased.withdrawn, 1));
      }
    }
    return effects;
  }

  private erased(record: LogRecord<'UserErased'>): Effect[] {
    const facts = this.factsOf(record.data.batchId);
    const chunks = new Map(record.data.chunks.map((c) => [c.chunk, c]));
    facts.erasures.push({ position: record.position, chunks });
    if (facts.retracted) return [];
    const effects: Effect[] = [];
    for (const [chunk, { revision, withdrawn }] of chunks) {
      const processed = facts.processed.get(chunk);
      if (processed !== undefined && processed.revision < revision) effects.push(withdraw(withdrawn, -1));
    }
    return effects;
  }
}

const CORRECTING = new Set(['BatchRetracted', 'UserErased']);

/** Batches a LogMemory follows at most; the oldest are forgotten (and asked of the log again). */
const BATCHES_REMEMBERED = 10_000;

/** Stands in for the detail of an EventsProcessed the memory keeps: only a retraction reads one. */
const NO_DETAIL = detailOf([]);

/**
 * What one reader following the log page after page has seen of the batches uploaded while it
 * followed: their corrections, and their EventsProcessed records without the detail (which only a
 * retraction needs, and reads). With it, countPage asks the log nothing about such a batch unless
 * the page retracts it. Valid only while pages follow one another: a page that does not start
 * where the last one ended (a restart, another process that took the lease meanwhile, a page
 * read again after a failed write) starts it afresh, so it never stands for records it missed.
 */
export class LogMemory {
  private next = 0;
  private batches = new Map<string, AnyLogRecord[]>();

  /** The batch's records before the page, when the memory saw every one of them. */
  recordsOf(batchId: string): readonly AnyLogRecord[] | undefined {
    return this.batches.get(batchId);
  }

  /** Called with each page before it is counted: forgets everything unless it follows the last. */
  startPage(first: number): void {
    if (first === this.next) return;
    this.batches = new Map();
    this.next = 0;
  }

  /** Takes in a counted page. */
  remember(page: readonly AnyLogRecord[]): void {
    for (const record of page) {
      const { batchId } = record.data;
      if (record.type === 'BatchUploaded') {
        if (this.batches.size >= BATCHES_REMEMBERED) {
          const oldest = this.batches.keys().next().value;
          if (oldest !== undefined) this.batches.delete(oldest);
        }
        this.batches.set(batchId, [record]);
        continue;
      }
      const records = this.batches.get(batchId);
      if (records === undefined) continue;
      records.push(
        record.type === 'EventsProcessed'
          ? { ...record, data: { ...record.data, detail: NO_DETAIL } }
          : record,
      );
    }
    const last = page.at(-1);
    if (last !== undefined) this.next = last.position + 1;
  }
}

/**
 * Each record of a page with what it changes. What it needs of earlier records comes from
 * `memory` for a batch the reader followed from its upload, unless the page retracts it; otherwise
 * it reads, per batch the page counts for, that batch's corrections (a few small records on their
 * own stream), and only when the page itself corrects a batch, that batch's EventsProcessed
 * records.
 */
export async function countPage(
  eventLog: EventLog,
  page: readonly AnyLogRecord[],
  memory?: LogMemory,
): Promise<CountedRecord[]> {
  const last = page.at(-1);
  if (last === undefined) return [];
  const first = page[0]?.position ?? 0;
  memory?.startPage(first);
  const counted = page.filter(
    (r) => r.type === 'EventsProcessed' || r.type === 'BatchRetracted' || r.type === 'UserErased',
  );
  const batches = [...new Set(counted.map((r) => r.data.batchId))];
  const corrected = new Set(counted.filter((r) => CORRECTING.has(r.type)).map((r) => r.data.batchId));
  const retracted = new Set(counted.filter((r) => r.type === 'BatchRetracted').map((r) => r.data.batchId));
  // BatchUploaded is the first record of its batch (nothing corrects a batch not yet uploaded):
  // a batch uploaded on this page has no records before it.
  const uploadedHere = new Set(page.filter((r) => r.type === 'BatchUploaded').map((r) => r.data.batchId));
  const streams = await Promise.all(
    batches.flatMap((batchId) => {
      if (uploadedHere.has(batchId)) return [];
      const remembered = retracted.has(batchId) ? undefined : memory?.recordsOf(batchId);
      if (remembered !== undefined) return [Promise.resolve(remembered)];
      return [
        eventLog.readStream(correctionsStream(batchId)),
        corrected.has(batchId) ? eventLog.readStream(batchStream(batchId)) : Promise.resolve([]),
      ];
    }),
  );
  // The records before the page that matter, then the page: one fold in position order.
  const before = new Map<number, AnyLogRecord>();
  for (const record of streams.flat()) if (record.position < first) before.set(record.position, record);
  const fold = new CorrectionsFold();
  for (const record of [...before.values()].sort((a, b) => a.position - b.position)) fold.next(record);
  const result = page.map((record) => ({ record, effects: fold.next(record) }));
  memory?.remember(page);
  return result;
}
