import type { Db } from 'mongodb';
import { QUARTER_MS, QUARTERS_PER_DAY } from '../events/chunkDetail';
import { dateOfDay, utcDate } from '../events/dailyCounts';
import type { UserFingerprint } from '../events/userFingerprint';
import { liveCollection } from './readModels';
import { decodeTypeDay, emptyTypeDay, seriesDays, type SeriesStoredDoc, type TypeDay } from './seriesDay';

/**
 * The metric series recounted from the chunk documents of the processed chunks, and the
 * comparison with the live read model: per UTC day and type, every quarter-hour's count and
 * users, and the counts known per day only (chunks whose EventsProcessed carries no detail).
 */
export class SeriesRecount {
  private readonly days = new Map<string, Map<string, TypeDay>>();
  private readonly dayOnly = new Map<string, Map<string, number>>();

  /** An event of a chunk whose record carries detail (it has its user). */
  addDetailed(eventType: string, millis: number, user: UserFingerprint): void {
    const quarter = Math.floor(millis / QUARTER_MS);
    const dayNumber = Math.floor(quarter / QUARTERS_PER_DAY);
    const date = dateOfDay(dayNumber);
    const inDay = quarter - dayNumber * QUARTERS_PER_DAY;
    const types = this.days.get(date) ?? new Map<string, TypeDay>();
    this.days.set(date, types);
    const day = types.get(eventType) ?? emptyTypeDay();
    types.set(eventType, day);
    day.counts[inDay] = (day.counts[inDay] ?? 0) + 1;
    day.users[inDay]?.add(user);
  }

  /** An event of a chunk whose record carries counts per UTC day only. */
  addDayOnly(eventType: string, millis: number): void {
    const date = utcDate(new Date(millis));
    const types = this.dayOnly.get(date) ?? new Map<string, number>();
    this.dayOnly.set(date, types);
    types.set(eventType, (types.get(eventType) ?? 0) + 1);
  }

  async compare(db: Db): Promise<string[]> {
    const docs = await (await liveCollection<SeriesStoredDoc>(db, 'metricSeries')).find({}).toArray();
    const differences: string[] = [];
    const live = new Map(seriesDays(docs).map((d) => [d.date, d]));
    for (const date of new Set([...live.keys(), ...this.days.keys(), ...this.dayOnly.keys()])) {
      const doc = live.get(date);
      const gotTypes = new Map((doc?.types ?? []).map((t) => [t.eventType, decodeTypeDay(t)]));
      const wantTypes = this.days.get(date) ?? new Map<string, TypeDay>();
      for (const eventType of new Set([...gotTypes.keys(), ...wantTypes.keys()])) {
        const got = gotTypes.get(eventType) ?? emptyTypeDay();
        const want = wantTypes.get(eventType) ?? emptyTypeDay();
        for (let q = 0; q < QUARTERS_PER_DAY; q++) {
          const [a, b] = [got.counts[q] ?? 0, want.counts[q] ?? 0];
          if (a !== b)
            differences.push(
              `metric series ${date} ${eventType} quarter ${q}: read model has ${a}, recount gives ${b}`,
            );
          const [ua, ub] = [got.users[q] ?? new Set(), want.users[q] ?? new Set()];
          if (ua.size !== ub.size || [...ub].some((u) => !ua.has(u))) {
            differences.push(
              `metric series ${date} ${eventType} quarter ${q}: read model has ${ua.size} users, recount gives ${ub.size}`,
            );
          }
        }
      }
      const gotDayOnly = new Map((doc?.dayOnly ?? []).map((c) => [c.eventType, c.count]));
      const wantDayOnly = this.dayOnly.get(date) ?? new Map<string, number>();
      for (const eventType of new Set([...gotDayOnly.keys(), ...wantDayOnly.keys()])) {
        const [a, b] = [gotDayOnly.get(eventType) ?? 0, wantDayOnly.get(eventType) ?? 0];
        if (a !== b)
          differences.push(
            `metric series ${date} ${eventType} per day only: read model has ${a}, recount gives ${b}`,
          );
      }
    }
    return differences;
  }
}
