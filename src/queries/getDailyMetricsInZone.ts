import { ValidationError } from '../errors';
import type { DailyMetrics } from './getDailyMetrics';
import { isCalendarDate } from './getDailyMetrics';
import type { GetMetricSeries, MetricSeries } from './getMetricSeries';
import { dateOfDay, localDay } from './zoneBuckets';

/**
 * `GET /api/metrics?date=&tz=` for a zone other than UTC: the one-day series of that local day, in
 * the daily answer's shape (counts only). Made once per series answer, so its JSON is too.
 */
export function createGetDailyMetricsInZone(deps: { getMetricSeries: GetMetricSeries; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  const answers = new WeakMap<MetricSeries, DailyMetrics>();
  return async function getDailyMetricsInZone(date: string | undefined, tz: string): Promise<DailyMetrics> {
    const day = date ?? dateOfDay(localDay(tz, now().getTime()));
    if (!isCalendarDate(day)) {
      throw new ValidationError('date must be a calendar date written as YYYY-MM-DD', { date });
    }
    const series = await deps.getMetricSeries({ from: day, to: day, tz, interval: 'day', eventTypes: [] });
    let answer = answers.get(series);
    if (answer === undefined) {
      const metrics = (series.series[0]?.metrics ?? []).map(({ eventType, count }) => ({ eventType, count }));
      answer = { date: day, metrics };
      answers.set(series, answer);
    }
    return answer;
  };
}

export type GetDailyMetricsInZone = ReturnType<typeof createGetDailyMetricsInZone>;
