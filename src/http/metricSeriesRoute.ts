import { z } from 'zod';
import { MAX_RANGE_DAYS } from '../queries/seriesParams';
import { ErrorResponse } from './errorMapping';
import { documentedRoute, sharedResponse } from './openapi/routeTable';

/** GET /api/metrics/series as OpenAPI describes it: its query, its answer and its examples. */

export const SeriesQuery = z.object({
  from: z.iso
    .date()
    .meta({ description: 'First local date of the range, YYYY-MM-DD', example: '2024-01-14' }),
  to: z.iso.date().meta({
    description: `Last local date of the range (included). At most ${MAX_RANGE_DAYS.day} days for interval=day, ${MAX_RANGE_DAYS.week} for week and month`,
    example: '2024-01-16',
  }),
  tz: z.string().optional().meta({
    description:
      'IANA time zone the dates are local to (default UTC); days run from local midnight to local midnight, DST days of 23 and 25 hours included',
    example: 'Asia/Kolkata',
  }),
  interval: z.enum(['day', 'week', 'month']).optional().meta({
    description:
      'Bucket size (default day): week = ISO weeks starting Monday, month = calendar months; each bucket is named by its first date and clipped to the range',
    example: 'day',
  }),
  eventType: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .meta({
      description: 'Only these event types: repeat the parameter or separate with commas',
      example: 'click,purchase',
    }),
  compare: z.enum(['previous']).optional().meta({
    description:
      'previous adds `previous`: the same number of buckets just before from, with totals and the percent change per type. Day and week series move back the fewest whole weeks that end at or before from (so weekdays line up: 10 days move back 14), month series as many calendar months as the range touches (a month-end stays a month-end). JSON only',
    example: 'previous',
  }),
  format: z.enum(['json', 'csv']).optional().meta({
    description: 'csv downloads date,eventType,count,uniqueUsers rows; the same as sending Accept: text/csv',
    example: 'json',
  }),
});

const TypeMetrics = z.object({
  eventType: z.string(),
  count: z.number().int().positive(),
  uniqueUsers: z.number().int().nonnegative().meta({ description: 'Distinct userId (exact, see README)' }),
});

const Buckets = z
  .array(
    z.object({
      date: z.iso.date(),
      metrics: z.array(TypeMetrics),
      partial: z.literal(true).optional().meta({
        description: 'Only on a week or month that from or to cuts, so it holds fewer days than a whole one',
      }),
    }),
  )
  .meta({ description: 'Every bucket of the range in order, [] metrics when empty; types sorted' });

const PreviousPeriod = z
  .object({
    from: z.iso.date(),
    to: z.iso.date(),
    series: Buckets,
    totals: z.array(TypeMetrics),
    change: z
      .array(
        z.object({
          eventType: z.string(),
          count: z.number().int().nonnegative(),
          previousCount: z.number().int().nonnegative(),
          percentChange: z.number().nullable().meta({
            description:
              '(count - previousCount) / previousCount in percent, one decimal; null when previousCount is 0',
          }),
        }),
      )
      .meta({ description: 'Every type counted in either period, by eventType' }),
  })
  .meta({ description: 'Only with compare=previous: the period just before, bucket for bucket' });

export const MetricSeriesResponse = z
  .object({
    from: z.iso.date(),
    to: z.iso.date(),
    tz: z.string(),
    interval: z.enum(['day', 'week', 'month']),
    series: Buckets,
    totals: z
      .array(TypeMetrics)
      .meta({ description: 'Over the whole range; uniqueUsers distinct over it, not a sum' }),
    previous: PreviousPeriod.optional(),
  })
  .meta({
    id: 'MetricSeriesResponse',
    example: {
      from: '2024-01-14',
      to: '2024-01-16',
      tz: 'Asia/Kolkata',
      interval: 'day',
      series: [
        { date: '2024-01-14', metrics: [] },
        {
          date: '2024-01-15',
          metrics: [
            { eventType: 'click', count: 2, uniqueUsers: 2 },
            { eventType: 'purchase', count: 1, uniqueUsers: 1 },
          ],
        },
        { date: '2024-01-16', metrics: [] },
      ],
      totals: [
        { eventType: 'click', count: 2, uniqueUsers: 2 },
        { eventType: 'purchase', count: 1, uniqueUsers: 1 },
      ],
    },
  });

const CSV_EXAMPLE = 'date,eventType,count,uniqueUsers\r\n2024-01-15,click,2,2\r\n2024-01-15,purchase,1,1\r\n';

export const seriesRoutes = {
  getMetricSeries: documentedRoute({
    method: 'get',
    path: '/api/metrics/series',
    tags: ['Metrics'],
    summary: 'Counts and unique users per day, week or month over a range, in any time zone',
    description:
      'Counts come from processed batches only. Cached answers are kept only while nothing new was projected; when too many uncached series are being computed, 503 ServiceBusy with Retry-After.',
    request: { query: SeriesQuery },
    responses: {
      200: {
        description: 'The series (JSON), or its rows as CSV with Accept: text/csv or format=csv',
        headers: {
          ETag: {
            description: 'Changes whenever the answer does; send it back as If-None-Match',
            schema: { type: 'string' },
          },
        },
        content: {
          'application/json': { schema: MetricSeriesResponse },
          'text/csv': { schema: { type: 'string' }, example: CSV_EXAMPLE },
        },
      },
      304: { description: 'The answer still matches the If-None-Match ETag; no body' },
      400: {
        description: 'A bad from, to, tz, interval, eventType or format: details.parameter names it',
        content: {
          'application/json': {
            schema: ErrorResponse,
            example: {
              error: 'ValidationError',
              message: 'tz must be an IANA time zone such as Europe/Berlin or Asia/Kolkata',
              details: { parameter: 'tz', value: 'Mars/Olympus' },
            },
          },
        },
      },
      503: sharedResponse('ServiceUnavailable'),
    },
  }),
};
