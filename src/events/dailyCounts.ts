import { byCodeUnits } from './codeUnitOrder';

/** Counting events per UTC day and type: what EventsProcessed records. */

export function utcDate(timestamp: Date): string {
  return timestamp.toISOString().slice(0, 10);
}

const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a YYYY-MM-DD date. */
export function dayNumber(date: string): number {
  const d = new Date(0);
  d.setUTCFullYear(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)));
  return Math.round(d.getTime() / DAY_MS);
}

export function dateOfDay(day: number): string {
  const d = new Date(day * DAY_MS);
  const year = String(d.getUTCFullYear()).padStart(4, '0');
  return `${year}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** Counts per (UTC date, eventType), sorted so equal inputs give equal records. */
export function countByDayAndType(
  events: readonly (readonly [eventType: string, utcMillis: number, user?: unknown])[],
): { date: string; eventType: string; count: number }[] {
  const counts = new Map<string, { date: string; eventType: string; count: number }>();
  for (const [eventType, millis] of events) {
    const date = utcDate(new Date(millis));
    const key = JSON.stringify([date, eventType]);
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { date, eventType, count: 1 });
    else entry.count += 1;
  }
  return [...counts.values()].sort((a, b) =>
    a.date === b.date ? byCodeUnits(a.eventType, b.eventType) : byCodeUnits(a.date, b.date),
  );
}
