import { byCodeUnits } from './codeUnitOrder';

/** Counting events per UTC day and type: what EventsProcessed records. */

export function utcDate(timestamp: Date): string {
  return timestamp.toISOString().slice(0, 10);
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
