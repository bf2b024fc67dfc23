import type { Db } from 'mongodb';
import { QUARTER_MS } from '../events/chunkDetail';
import type { UserFingerprint } from '../events/userFingerprint';
import { liveCollection } from './readModels';
import {
  layoutProblems,
  monthDocId,
  monthOfQuarter,
  shardOf,
  wholeMonths,
  wordsOf,
  USER_WORDS,
  type SeriesMonthDoc,
} from './seriesMonth';

/**
 * The metric series recounted from the chunk documents of the processed chunks, and the
 * comparison with the live read model: per document and type, every quarter-hour's count and its
 * (quarter-hour, user) pairs, each with the number of chunks that hold it.
 */

/** One type of one document: count per quarter-hour of the month, and holders per `quarter:user`. */
interface TypeMonth {
  counts: Map<number, number>;
  users: Map<string, number>;
}

function typeMonth(docs: Map<string, Map<string, TypeMonth>>, id: string, eventType: string): TypeMonth {
  const types = docs.get(id) ?? new Map<string, TypeMonth>();
  docs.set(id, types);
  let type = types.get(eventType);
  if (type === undefined) types.set(eventType, (type = { counts: new Map(), users: new Map() }));
  return type;
}

function pair(quarter: number, high: number, low: number): string {
  return `${quarter}:${(BigInt(high) << 32n) | BigInt(low)}`;
}

export class SeriesRecount {
  private readonly docs = new Map<string, Map<string, TypeMonth>>();
  /** The (type, quarter-hour, user) keys of the chunk being added: a chunk holds each once. */
  private chunkKeys = new Set<string>();

  /** The following events are one chunk's: holders count chunks, not events. */
  startChunk(): void {
    this.chunkKeys = new Set();
  }

  add(eventType: string, millis: number, user: UserFingerprint): void {
    const quarter = Math.floor(millis / QUARTER_MS);
    const { month, firstQuarter } = monthOfQuarter(quarter);
    const type = typeMonth(this.docs, monthDocId(month, shardOf(eventType)), eventType);
    const inMonth = quarter - firstQuarter;
    type.counts.set(inMonth, (type.counts.get(inMonth) ?? 0) + 1);
    const pair = `${inMonth}:${user}`;
    const chunkKey = JSON.stringify([eventType, pair]);
    if (this.chunkKeys.has(chunkKey)) return;
    this.chunkKeys.add(chunkKey);
    type.users.set(pair, (type.users.get(pair) ?? 0) + 1);
  }

  async compare(db: Db): Promise<string[]> {
    const all = await (await liveCollection<SeriesMonthDoc>(db, 'metricSeries')).find({}).toArray();
    const stored = wholeMonths(all);
    const live = new Map<string, Map<string, TypeMonth>>();
    const differences = layoutProblems(all);
    for (const doc of stored) {
      for (const t of doc.types) {
        if (shardOf(t.eventType) !== Number(doc._id.slice(-2)) || !doc._id.startsWith(doc.month))
          differences.push(`metric series ${doc._id}: holds ${t.eventType}, which belongs elsewhere`);
        const type = typeMonth(live, doc._id, t.eventType);
        const counts = wordsOf(t.counts);
        for (let i = 0; i + 1 < counts.length; i += 2) type.counts.set(counts[i] ?? 0, counts[i + 1] ?? 0);
        const users = wordsOf(t.users);
        for (let i = 0; i + USER_WORDS <= users.length; i += USER_WORDS)
          type.users.set(pair(users[i] ?? 0, users[i + 1] ?? 0, users[i + 2] ?? 0), users[i + 3] ?? 0);
      }
    }
    for (const id of new Set([...live.keys(), ...this.docs.keys()])) {
      const got = live.get(id) ?? new Map<string, TypeMonth>();
      const want = this.docs.get(id) ?? new Map<string, TypeMonth>();
      for (const eventType of new Set([...got.keys(), ...want.keys()])) {
        const a = got.get(eventType) ?? {
          counts: new Map<number, number>(),
          users: new Map<string, number>(),
        };
        const b = want.get(eventType) ?? {
          counts: new Map<number, number>(),
          users: new Map<string, number>(),
        };
        for (const q of new Set([...a.counts.keys(), ...b.counts.keys()])) {
          const [x, y] = [a.counts.get(q) ?? 0, b.counts.get(q) ?? 0];
          if (x !== y)
            differences.push(
              `metric series ${id} ${eventType} quarter ${q}: read model has ${x}, recount gives ${y}`,
            );
        }
        const wrong = [...b.users].filter(([u, holders]) => a.users.get(u) !== holders).length;
        if (a.users.size !== b.users.size || wrong > 0)
          differences.push(
            `metric series ${id} ${eventType}: read model has ${a.users.size} (quarter-hour, user) pairs, ` +
              `recount gives ${b.users.size}, ${wrong} with another number of chunks holding them`,
          );
      }
    }
    return differences;
  }
}
