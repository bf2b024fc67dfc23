import type { Collection, Db } from 'mongodb';
import { createAppender, type AppendDocument } from './logAppender';
import { isRecordType, recordSchemas, upcast, type RecordData, type RecordType } from './recordTypes';

/**
 * The append-only event log. One document per record; `_id` is the record's position, so a
 * position exists only once its record is committed and positions have no gaps. Each record also
 * has a natural `key` under a unique index, which makes a retried append a no-op.
 */

export const EVENT_LOG_COLLECTION = 'event_log';

export interface RecordMetadata {
  correlationId: string;
  recordedAt: Date;
}

export interface LogRecord<T extends RecordType = RecordType> {
  position: number;
  key: string;
  type: T;
  version: number;
  streamId: string;
  data: RecordData<T>;
  metadata: RecordMetadata;
}

/** Any record, narrowed by `type`. */
export type AnyLogRecord = { [T in RecordType]: LogRecord<T> }[RecordType];

export interface NewRecord<T extends RecordType> {
  type: T;
  /** Natural idempotency key, e.g. `EventsProcessed:<batchId>:<chunk>`. */
  key: string;
  streamId: string;
  data: RecordData<T>;
  correlationId: string;
}

type LogDocument = AppendDocument;

export class CorruptRecordError extends Error {
  constructor(position: number, reason: string) {
    super(`event log record at position ${position} is unreadable: ${reason}`);
  }
}

function toRecord(doc: LogDocument): AnyLogRecord {
  if (!isRecordType(doc.type)) throw new CorruptRecordError(doc._id, `unknown type ${doc.type}`);
  const versions: Record<
    number,
    { safeParse(v: unknown): { success: boolean; data?: unknown } } | undefined
  > = recordSchemas[doc.type];
  const schema = versions[doc.version];
  if (schema === undefined)
    throw new CorruptRecordError(doc._id, `unknown version ${doc.version} of ${doc.type}`);
  const parsed = schema.safeParse(doc.data);
  if (!parsed.success)
    throw new CorruptRecordError(doc._id, `data does not match ${doc.type} v${doc.version}`);
  return {
    position: doc._id,
    key: doc.key,
    type: doc.type,
    version: doc.version,
    streamId: doc.streamId,
    data: upcast(doc.type, doc.version, parsed.data),
    metadata: doc.metadata,
  } as AnyLogRecord;
}

export interface EventLog {
  /** Appends a record, or returns the record already stored under the same key. */
  append<T extends RecordType>(record: NewRecord<T>): Promise<{ record: LogRecord<T>; appended: boolean }>;
  /**
   * Appends records at consecutive positions, in one round trip when no other process races for
   * them; each answer is that of `append`.
   */
  appendMany(
    records: readonly NewRecord<RecordType>[],
  ): Promise<{ record: AnyLogRecord; appended: boolean }[]>;
  /** Up to `limit` records with position >= `from`, in position order. */
  readFrom(from: number, limit?: number): Promise<AnyLogRecord[]>;
  /** Every record from `from` on, in position order, streamed by one query `batchSize` at a time. */
  readAll(from?: number, batchSize?: number): AsyncGenerator<AnyLogRecord>;
  /**
   * The position of the newest record, 0 when the log is empty. `known`: a position known to have
   * existed (a checkpoint), where the search can start instead of at the last head this process saw.
   */
  head(known?: number): Promise<number>;
  /** Whether the log holds a record at `position` (positions are gap-free: whether head >= position). */
  has(position: number): Promise<boolean>;
  findByKey(key: string): Promise<AnyLogRecord | undefined>;
  /** Every record of one stream (e.g. `batch:<id>`), in position order. */
  readStream(streamId: string): Promise<AnyLogRecord[]>;
}

/** Positions after the last head seen that a head search probes at once (see head). */
const HEAD_PROBES = 3;

/** Up to this many records, readFrom fetches each by position instead of one range query. */
const POINT_READS_MAX = 16;
/** Positions readFrom reads at once before it asks where the head is. */
const FIRST_READS = 8;

export async function ensureEventLogIndexes(db: Db): Promise<void> {
  const log = db.collection<LogDocument>(EVENT_LOG_COLLECTION);
  await log.createIndex({ key: 1 }, { unique: true, name: 'key_unique' }, undefined);
  await log.createIndex({ streamId: 1, _id: 1 }, { name: 'stream_position' }, undefined);
}

export function createEventLog(
  db: Db,
  options: { onAppended?: (record: AnyLogRecord) => void } = {},
): EventLog {
  const log: Collection<LogDocument> = db.collection<LogDocument>(EVENT_LOG_COLLECTION);

  async function exists(position: number): Promise<boolean> {
    return (await log.findOne({ _id: position }, { projection: { _id: 1 } })) !== null;
  }

  // Positions are gap-free (1..head exist, nothing after), so the head is found by primary-key
  // probes from the last head seen, galloping when far behind. A sorted query would do, but
  // FerretDB answers `sort _id -1 limit 1` with a full scan: this stays cheap on every backend.
  let knownHead = 0;
  async function head(known = 0): Promise<number> {
    knownHead = Math.max(knownHead, known);
    // The last head seen and the few positions after it in one round trip: usually the whole
    // answer, also for a process that other processes' appends moved ahead of (HEAD_PROBES).
    // `from` is taken once: another call may move `knownHead` while these probes are out.
    const from = knownHead;
    const [lastThere, ...after] = await Promise.all([
      from === 0 ? true : exists(from),
      ...Array.from({ length: HEAD_PROBES }, (_, i) => exists(from + 1 + i)),
    ]);
    // Only tests ever empty the log; start over if they did.
    if (!lastThere) {
      knownHead = 0;
      return head();
    }
    // Before the first position found missing, every one was seen to exist: the head is there.
    const missing = after.indexOf(false);
    if (missing !== -1) {
      knownHead = Math.max(knownHead, from + missing);
      return from + missing;
    }
    let low = from + HEAD_PROBES - 1;
    let high = low + 1;
    let there = true;
    for (let step = 1; there; step *= 2) {
      low = high;
      high = low + step;
      there = await exists(high);
    }
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (await exists(mid)) low = mid;
      else high = mid;
    }
    knownHead = Math.max(knownHead, low);
    return low;
  }

  async function findByKey(key: string): Promise<AnyLogRecord | undefined> {
    const doc = await log.findOne({ key });
    return doc === null ? undefined : toRecord(doc);
  }

  // Appends of this process are written together (logAppender); other processes still race.
  const appendRecord = createAppender({
    log,
    head: () => head(),
    byKey: (key) => log.findOne({ key }),
    wrote: (doc) => {
      knownHead = Math.max(knownHead, doc._id);
      options.onAppended?.(toRecord(doc));
    },
  });

  async function append<T extends RecordType>(
    input: NewRecord<T>,
  ): Promise<{ record: LogRecord<T>; appended: boolean }> {
    const { doc, appended } = await appendRecord(input);
    return { record: toRecord(doc) as LogRecord<T>, appended };
  }

  function appendMany(
    inputs: readonly NewRecord<RecordType>[],
  ): Promise<{ record: AnyLogRecord; appended: boolean }[]> {
    // Queued in one tick, they are drained together: one insert for all of them.
    return Promise.all(
      inputs.map(async (input) => {
        const { doc, appended } = await appendRecord(input);
        return { record: toRecord(doc), appended };
      }),
    );
  }

  /** Up to `limit` records from `from`, as far as the head is. */
  async function readToHead(from: number, limit: number): Promise<LogDocument[]> {
    const count = Math.min(limit, (await head()) - from + 1);
    if (count <= 0) return [];
    if (count <= POINT_READS_MAX) return pointReads(from, count);
    return log.find({ _id: { $gte: from, $lt: from + count } }, { sort: { _id: 1 } }).toArray();
  }

  /** The records at `from` .. `from + count - 1` read by primary key, up to the first one missing. */
  async function pointReads(from: number, count: number): Promise<LogDocument[]> {
    const docs = await Promise.all(Array.from({ length: count }, (_, i) => log.findOne({ _id: from + i })));
    const missing = docs.indexOf(null);
    return (missing === -1 ? docs : docs.slice(0, missing)).filter((doc): doc is LogDocument => doc !== null);
  }

  async function readFrom(from: number, limit = 1000): Promise<AnyLogRecord[]> {
    // A reader following the head (a projector after an append) reads the next few positions by
    // primary key: the first one missing is the head, so that needs no search of its own. Measured
    // on FerretDB: point reads are what its PostgreSQL backend serves from an index, while its SQLite
    // backend scans for each of them. A longer read goes on to the head with one range query.
    const first = await pointReads(from, Math.min(limit, FIRST_READS));
    const last = first.at(-1);
    if (last !== undefined) knownHead = Math.max(knownHead, last._id);
    const rest =
      first.length < FIRST_READS ? [] : await readToHead(from + first.length, limit - first.length);
    return [...first, ...rest].map(toRecord);
  }

  async function* readAll(from = 1, batchSize = 1000): AsyncGenerator<AnyLogRecord> {
    // One query for the whole read: FerretDB answers every range query with a scan of the log, so
    // reading it in pages of separate queries would cost one scan per page.
    const cursor = log.find({ _id: { $gte: from } }, { sort: { _id: 1 }, batchSize });
    let expected = from;
    try {
      for await (const doc of cursor) {
        // Positions are gap-free; stop short of a record that is not there (yet) rather than skip it.
        if (doc._id !== expected) return;
        expected += 1;
        yield toRecord(doc);
      }
    } finally {
      await cursor.close();
    }
  }

  async function readStream(streamId: string): Promise<AnyLogRecord[]> {
    const docs = await log.find({ streamId }, { sort: { _id: 1 } }).toArray();
    return docs.map(toRecord);
  }

  return { append, appendMany, readFrom, readAll, head, has: exists, findByKey, readStream };
}
