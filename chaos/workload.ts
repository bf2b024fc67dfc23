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

/**
 * Row number `n` of a run: the same in every file of the run that holds it, which is what makes
 * files overlap; another run's seed gives other users, types and instants.
 */
export function rowAt(n: number, seed: number): Row {
  const random = prng(Math.imul(n + 1, 0x9e3779b1) ^ seed);
  return {
    userId: `user-${Math.floor(random() * 3000)}`,
    eventType: TYPES[Math.floor(random() * TYPES.length)] ?? 'view',
    at: FIRST_DAY + Math.floor(random() * DAYS * 86_400_000),
  };
}

/** `count` rows numbered from `from` of run `runSeed`; about 5% of them appear twice in the file. */
export function rowsOf(from: number, count: number, fileSeed: number, runSeed = 0): Row[] {
  const random = prng(fileSeed);
  const rows: Row[] = [];
  for (let n = from; n < from + count; n++) rows.push(rowAt(n, runSeed));
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

/** The distinct events of all the files (the same user, type and instant is one event). */
export function distinctRows(files: readonly CsvFile[]): Row[] {
  const seen = new Map<string, Row>();
  for (const file of files)
    for (const row of file.rows) seen.set(JSON.stringify([row.userId, row.eventType, row.at]), row);
  return [...seen.values()];
}

/** Counts per day and type of the distinct events of all the files. */
export function recount(files: readonly CsvFile[]): Map<string, Map<string, number>> {
  const counts = new Map<string, Map<string, number>>();
  for (const row of distinctRows(files)) {
    const day = counts.get(dayOf(row.at)) ?? new Map<string, number>();
    day.set(row.eventType, (day.get(row.eventType) ?? 0) + 1);
    counts.set(dayOf(row.at), day);
  }
  return counts;
}

/** Asia/Kolkata: +05:30 all year (no DST), so a local date is plain arithmetic. */
export const SERIES_ZONE = 'Asia/Kolkata';
const ZONE_OFFSET_MS = 5.5 * 3_600_000;
/** The local dates that hold every instant of the workload. */
export const SERIES_FROM = dayOf(FIRST_DAY + ZONE_OFFSET_MS);
export const SERIES_TO = dayOf(FIRST_DAY + DAYS * 86_400_000 - 1 + ZONE_OFFSET_MS);

export interface TypeMetrics {
  eventType: string;
  count: number;
  uniqueUsers: number;
}

function metricsOf(rows: readonly Row[]): TypeMetrics[] {
  const byType = new Map<string, { count: number; users: Set<string> }>();
  for (const row of rows) {
    const entry = byType.get(row.eventType) ?? { count: 0, users: new Set<string>() };
    entry.count += 1;
    entry.users.add(row.userId);
    byType.set(row.eventType, entry);
  }
  return [...byType]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([eventType, { count, users }]) => ({ eventType, count, uniqueUsers: users.size }));
}

/**
 * The daily series in SERIES_ZONE from SERIES_FROM to SERIES_TO: per local date and type the
 * distinct events and distinct users, every date listed, and the totals over the whole range.
 */
export function recountSeries(files: readonly CsvFile[]): {
  series: { date: string; metrics: TypeMetrics[] }[];
  totals: TypeMetrics[];
} {
  const rows = distinctRows(files);
  const byDate = new Map<string, Row[]>();
  for (const row of rows) {
    const date = dayOf(row.at + ZONE_OFFSET_MS);
    const list = byDate.get(date) ?? [];
    list.push(row);
    byDate.set(date, list);
  }
  const series: { date: string; metrics: TypeMetrics[] }[] = [];
  for (let day = Date.parse(SERIES_FROM); dayOf(day) <= SERIES_TO; day += 86_400_000)
    series.push({ date: dayOf(day), metrics: metricsOf(byDate.get(dayOf(day)) ?? []) });
  return { series, totals: metricsOf(rows) };
}
