import { setTimeout as sleep } from 'node:timers/promises';
import { MongoBulkWriteError, type Collection } from 'mongodb';
import { isDuplicateKey } from '../mongo';
import { currentSchemas, currentVersion, type RecordType } from './recordTypes';

/**
 * How records reach the log. Appends of one process are drained together: whatever is waiting is
 * written by one ordered insertMany at consecutive positions (head+1, head+2, …), so a burst of
 * appends costs one round trip, not one contended insert each. Ordered, the insert stops at the
 * first position another process took or the first key already in the log: the records before it
 * are in, none after it, so positions stay gap-free. That one record then goes the single way
 * (next position, or the record already stored under its key), and the rest are drained again.
 */

export interface AppendDocument {
  _id: number;
  key: string;
  type: string;
  version: number;
  streamId: string;
  data: unknown;
  metadata: { correlationId: string; recordedAt: Date };
}

export interface AppendInput {
  type: RecordType;
  key: string;
  streamId: string;
  data: unknown;
  correlationId: string;
}

export type Appended = { doc: AppendDocument; appended: boolean };

export interface AppenderDeps {
  log: Collection<AppendDocument>;
  head: () => Promise<number>;
  /** The document stored under `key`, if any. */
  byKey: (key: string) => Promise<AppendDocument | null>;
  /** Called with each position this process wrote. */
  wrote: (doc: AppendDocument) => void;
}

const MAX_APPEND_ATTEMPTS = 200;
/**
 * Records written by one insert; a bigger burst is drained in several. At most 100: FerretDB
 * (v1.24) writes an insert in batches of 100 and, ordered or not, goes on with the next batch
 * after a failed one, which would leave a gap in the positions.
 */
const MAX_RECORDS_PER_INSERT = 100;

interface Waiting {
  input: AppendInput;
  data: unknown;
  resolve: (result: Appended) => void;
  reject: (error: unknown) => void;
}

function newDocument(w: Waiting, position: number): AppendDocument {
  return {
    _id: position,
    key: w.input.key,
    type: w.input.type,
    version: currentVersion[w.input.type],
    streamId: w.input.streamId,
    data: w.data,
    metadata: { correlationId: w.input.correlationId, recordedAt: new Date() },
  };
}

export function createAppender(deps: AppenderDeps): (input: AppendInput) => Promise<Appended> {
  let waiting: Waiting[] = [];
  let draining = false;

  /** One record the single way: insert at the next position; a duplicate key says who was first. */
  async function appendOne(w: Waiting): Promise<Appended> {
    // Insert first and ask questions only on a duplicate-key error: a lookup by `key` before every
    // append would be one more round trip each (and a scan on a FerretDB without index twins).
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
      const doc = newDocument(w, (await deps.head()) + 1);
      try {
        await deps.log.insertOne(doc);
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        const atPosition = await deps.log.findOne({ _id: doc._id }, { projection: { key: 1 } });
        // Someone else took the position: try the next one.
        if (atPosition !== null && atPosition.key !== doc.key) {
          if (attempt > 3) await sleep(Math.random() * Math.min(50, attempt * 2));
          continue;
        }
        // The key is already in the log (a retry, or a twin append): that record is the answer.
        const existing = await deps.byKey(doc.key);
        if (existing === null) continue;
        return { doc: existing, appended: false };
      }
      deps.wrote(doc);
      return { doc, appended: true };
    }
    throw new Error(`could not append ${w.input.key} after ${MAX_APPEND_ATTEMPTS} attempts`);
  }

  /** Writes a group in order; each record's promise settles with its own outcome. */
  async function appendGroup(group: Waiting[]): Promise<void> {
    let rest = group;
    while (rest.length > 0) {
      const head = await deps.head();
      const docs = rest.map((w, i) => newDocument(w, head + 1 + i));
      let written = docs.length;
      try {
        if (docs.length === 1) await deps.log.insertOne(docs[0] as AppendDocument);
        else await deps.log.insertMany(docs, { ordered: true });
      } catch (error) {
        const first = error instanceof MongoBulkWriteError ? [error.writeErrors].flat()[0] : undefined;
        if (!isDuplicateKey(error) && first?.code !== 11000) throw error;
        written = first?.index ?? 0;
      }
      for (let i = 0; i < written; i++) {
        const doc = docs[i] as AppendDocument;
        deps.wrote(doc);
        rest[i]?.resolve({ doc, appended: true });
      }
      const stopped = rest[written];
      if (stopped === undefined) return;
      stopped.resolve(await appendOne(stopped));
      rest = rest.slice(written + 1);
    }
  }

  async function drain(): Promise<void> {
    if (draining) return;
    draining = true;
    try {
      // Let the appends queued in this tick (appendMany) join the first group.
      await Promise.resolve();
      while (waiting.length > 0) {
        const group = waiting.slice(0, MAX_RECORDS_PER_INSERT);
        waiting = waiting.slice(MAX_RECORDS_PER_INSERT);
        await appendGroup(group).catch((error: unknown) => {
          // Resolving a settled promise is a no-op: only the records not yet written fail.
          for (const w of group) w.reject(error);
        });
      }
    } finally {
      draining = false;
    }
  }

  return (input) =>
    new Promise<Appended>((resolve, reject) => {
      const schema: { parse(v: unknown): unknown } = currentSchemas[input.type];
      const data = schema.parse(input.data);
      waiting.push({ input, data, resolve, reject });
      void drain();
    });
}
