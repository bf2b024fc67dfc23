import { isPartial, percentChange, previousRange } from '../../../src/queries/seriesPeriods';
import type { SeriesParams } from '../../../src/queries/seriesParams';

const params = (from: string, to: string, interval: SeriesParams['interval']): SeriesParams => ({
  from,
  to,
  tz: 'Europe/Berlin',
  interval,
  eventTypes: ['click'],
});
const range = (p: SeriesParams) => [p.from, p.to];

describe('the previous period of a series', () => {
  it('moves day and week series back the fewest whole weeks that end before from (13 weeks: 13 weeks back)', () => {
    expect(range(previousRange(params('2024-01-10', '2024-01-10', 'day')))).toEqual([
      '2024-01-03',
      '2024-01-03',
    ]);
    expect(range(previousRange(params('2024-01-10', '2024-01-16', 'day')))).toEqual([
      '2024-01-03',
      '2024-01-09',
    ]);
    expect(range(previousRange(params('2024-01-10', '2024-01-19', 'day')))).toEqual([
      '2023-12-27',
      '2024-01-05',
    ]);
    expect(range(previousRange(params('2024-01-01', '2024-03-31', 'week')))).toEqual([
      '2023-10-02',
      '2023-12-31',
    ]);
  });

  it('moves month series back as many calendar months as they touch, month ends staying month ends', () => {
    expect(range(previousRange(params('2024-03-01', '2024-03-31', 'month')))).toEqual([
      '2024-02-01',
      '2024-02-29',
    ]);
    expect(range(previousRange(params('2024-01-15', '2024-03-31', 'month')))).toEqual([
      '2023-10-15',
      '2023-12-31',
    ]);
    expect(range(previousRange(params('2024-03-31', '2024-05-30', 'month')))).toEqual([
      '2023-12-31',
      '2024-02-29',
    ]);
    expect(range(previousRange(params('2024-02-29', '2024-02-29', 'month')))).toEqual([
      '2024-01-31',
      '2024-01-31',
    ]);
  });

  it('keeps the zone, interval and types', () => {
    const previous = previousRange(params('2024-01-10', '2024-01-19', 'week'));
    expect([previous.tz, previous.interval, previous.eventTypes]).toEqual([
      'Europe/Berlin',
      'week',
      ['click'],
    ]);
  });
});

describe('partial buckets and percent change', () => {
  it('marks a week or month with a day outside the range, never a day', () => {
    expect(isPartial('week', '2024-01-08', '2024-01-08', '2024-01-14')).toBe(false);
    expect(isPartial('week', '2024-01-08', '2024-01-09', '2024-01-31')).toBe(true);
    expect(isPartial('week', '2024-01-29', '2024-01-01', '2024-02-03')).toBe(true);
    expect(isPartial('month', '2024-02-01', '2024-01-15', '2024-02-29')).toBe(false);
    expect(isPartial('month', '2024-02-01', '2024-01-15', '2024-02-28')).toBe(true);
    expect(isPartial('day', '2024-02-01', '2024-02-01', '2024-02-01')).toBe(false);
  });

  it('is null without a previous count, and rounded to one decimal', () => {
    expect(percentChange(5, 0)).toBeNull();
    expect(percentChange(0, 4)).toBe(-100);
    expect(percentChange(4, 3)).toBe(33.3);
    expect(percentChange(3, 3)).toBe(0);
  });
});
