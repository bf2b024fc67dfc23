import { ValidationError } from '../errors';
import { isCalendarDate } from './getDailyMetrics';
import { isTimeZone } from '../timeZone';
import { dayNumber } from '../events/dailyCounts';
import type { Interval } from './zoneBuckets';
import { byCodeUnits } from '../events/codeUnitOrder';

/** What a series is asked for, checked: every problem is a 400 naming its parameter. */
export interface SeriesParams {
  from: string;
  to: string;
  tz: string;
  interval: Interval;
  /** Sorted and distinct; empty means every type. */
  eventTypes: string[];
}

/** Days a range may span per interval (both ends included). */
export const MAX_RANGE_DAYS: Record<Interval, number> = { day: 366, week: 3660, month: 3660 };

const INTERVALS: readonly string[] = ['day', 'week', 'month'];

function invalid(parameter: string, message: string, value: unknown): ValidationError {
  return new ValidationError(message, { parameter, value });
}

/** One query-string value: a repeated parameter other than eventType is refused. */
function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(name, `${name} must be given once, as text`, value);
  return value;
}

function calendarDate(query: Record<string, unknown>, name: string): string {
  const value = single(query, name);
  if (value === undefined) throw invalid(name, `${name} is required (YYYY-MM-DD)`, value);
  if (!isCalendarDate(value))
    throw invalid(name, `${name} must be a calendar date written as YYYY-MM-DD`, value);
  return value;
}

/** A zone Intl knows, or UTC when none is given. */
export function timeZoneParam(query: Record<string, unknown>): string {
  const tz = single(query, 'tz') ?? 'UTC';
  if (tz.length > 64 || !isTimeZone(tz)) {
    throw invalid('tz', 'tz must be an IANA time zone such as Europe/Berlin or Asia/Kolkata', tz);
  }
  return tz;
}

/** Event type names one series may ask for. */
const MAX_EVENT_TYPES = 100;
const TOO_MANY_TYPES = `eventType must be text, repeated or comma-separated (at most ${MAX_EVENT_TYPES} names)`;

function eventTypesParam(query: Record<string, unknown>): string[] {
  const raw = query.eventType;
  if (raw === undefined) return [];
  const values = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  if (values.length > MAX_EVENT_TYPES || !values.every((v): v is string => typeof v === 'string')) {
    throw invalid('eventType', TOO_MANY_TYPES, raw);
  }
  // The names are counted, not the parameters: one parameter may hold many names.
  const types = values.flatMap((v) => v.split(',')).map((v) => v.normalize('NFC').trim());
  if (types.length > MAX_EVENT_TYPES) throw invalid('eventType', TOO_MANY_TYPES, `${types.length} names`);
  if (types.some((t) => t === '' || t.length > 256)) {
    throw invalid('eventType', 'eventType must not be empty (or longer than 256 characters)', raw);
  }
  return [...new Set(types)].sort(byCodeUnits);
}

export function parseSeriesParams(query: Record<string, unknown>): SeriesParams {
  const from = calendarDate(query, 'from');
  const to = calendarDate(query, 'to');
  const interval = single(query, 'interval') ?? 'day';
  if (!INTERVALS.includes(interval))
    throw invalid('interval', 'interval must be day, week or month', interval);
  const tz = timeZoneParam(query);
  const days = dayNumber(to) - dayNumber(from) + 1;
  if (days < 1) throw invalid('to', 'to must not be before from', to);
  const max = MAX_RANGE_DAYS[interval as Interval];
  if (days > max)
    throw invalid(
      'to',
      `to is too far from from: a ${interval} series spans at most ${max} days, this one ${days}`,
      to,
    );
  return { from, to, tz, interval: interval as Interval, eventTypes: eventTypesParam(query) };
}
