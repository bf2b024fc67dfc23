import { ValidationError } from '../errors';
import type { DailyMetrics } from './getDailyMetrics';
import { isCalendarDate } from './getDailyMetrics';
import type { GetMetricSeries, MetricSeries } from './getMetricSeries';
import type { SeriesParams } from './seriesParams';
import { dateOfDay } from '../events/dailyCounts';
import { localDay } from './zoneBuckets';

/**
 * `GET /api/metrics?date=&tz=` for a zone other than UTC: the one-day series of that local day, in
 * the daily answer's shape (counts only). Made once per series answer, so its JSON is too.
 */
export function createGetDailyMetricsInZone(deps: { getMetricSeries: GetMetricSeries; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  const answers = new WeakMap<MetricSeries, DailyMetrics>();

  function question(date: string | undefined, tz: string): SeriesParams {
    const day = date ?? dateOfDay(localDay(tz, now().getTime()));
    if (!isCalendarDate(day)) {
      throw new ValidationError('date must be a calendar date written as YYYY-MM-DD', { date });
    }
    return { from: day, to: day, tz, interval: 'day', eventTypes: [] };
  }

  function answerOf(series: MetricSeries): DailyMetrics {
    let answer = answers.get(series);
    if (answer === undefined) {
      const metrics = (series.series[0]?.metrics ?? []).map(({ eventType, count }) => ({ eventType, count }));
      answer = { date: series.from, metrics };
      answers.set(series, answer);
    }
    return answer;
  }

  async function getDailyMetricsInZone(date: string | undefined, tz: string): Promise<DailyMetrics> {
    return answerOf(await deps.getMetricSeries(question(date, tz)));
  }
  /** `getDailyMetricsInZone` when its series is cached (see answerCache); undefined otherwise. */
  function ready(date: string | undefined, tz: string): Promise<DailyMetrics> | undefined {
    return deps.getMetricSeries.ready(question(date, tz))?.then(answerOf);
  }
  return Object.assign(getDailyMetricsInZone, { ready });
}

export type GetDailyMetricsInZone = ReturnType<typeof createGetDailyMetricsInZone>;
