/**
 * The files a scenario uploads, and the counts they must produce, computed here from the rows
 * themselves and nothing of the service's: an independent recount.
 */

export interface Row {
  userId: string;
  eventType: string;
  /** UTC milliseconds. */
  at: number;
}

export interface CsvFile {
  name: string;
  rows: Row[];
  text: string;
}

const TYPES = ['view', 'click', 'purchase', 'signup', 'search', 'logout'];
const FIRST_DAY = Date.UTC(2024, 0, 10);
export const DAYS = 10;

/** A small deterministic PRNG (mulberry32), so a failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Row number `n`: the same in every file that holds it, which is what makes files overlap. */
export function rowAt(n: number): Row {
  return {
    userId: `user-${n % 5000}`,
    eventType: TYPES[n % TYPES.length] ?? 'view',
    at: FIRST_DAY + Math.floor(prng(n)() * DAYS * 86_400_000),
  };
}

/** `count` rows numbered from `from`; about 5% of them appear twice in the file. */
export function rowsOf(from: number, count: number, seed: number): Row[] {
  const random = prng(seed);
  const rows: Row[] = [];
  for (let n = from; n < from + count; n++) rows.push(rowAt(n));
  const repeats = Math.floor(count / 20);
  for (let i = 0; i < repeats; i++) {
    const row = rows[Math.floor(random() * count)];
    if (row !== undefined) rows.push(row);
  }
  return rows;
}

export function csvFile(name: string, rows: Row[]): CsvFile {
  // Some rows carry a +02:00 offset: the same instant, another spelling.
  const lines = rows.map((r, i) => {
    const iso = new Date(r.at).toISOString();
    const at = i % 7 === 0 ? shifted(r.at) : iso;
    return `${r.userId},${r.eventType},${at},"{""n"":${i}}"`;
  });
  return { name, rows, text: `userId,eventType,timestamp,metadata\n${lines.join('\n')}\n` };
}

function shifted(ms: number): string {
  const local = new Date(ms + 2 * 3_600_000).toISOString().replace('Z', '');
  return `${local}+02:00`;
}

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function allDays(): string[] {
  return Array.from({ length: DAYS }, (_, i) => dayOf(FIRST_DAY + i * 86_400_000));
}

/** Counts per day and type of the distinct events of all the files. */
export function recount(files: readonly CsvFile[]): Map<string, Map<string, number>> {
  const seen = new Set<string>();
  const counts = new Map<string, Map<string, number>>();
  for (const file of files) {
    for (const row of file.rows) {
      const key = JSON.stringify([row.userId, row.eventType, row.at]);
      if (seen.has(key)) continue;
      seen.add(key);
      const day = counts.get(dayOf(row.at)) ?? new Map<string, number>();
      day.set(row.eventType, (day.get(row.eventType) ?? 0) + 1);
      counts.set(dayOf(row.at), day);
    }
  }
  return counts;
}
