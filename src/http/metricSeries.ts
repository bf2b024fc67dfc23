import type { IncomingMessage } from 'node:http';
import { gzipSync } from 'node:zlib';
import accepts from 'accepts';
import { Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors';
import type { GetMetricSeries, MetricSeries } from '../queries/getMetricSeries';
import { MAX_RANGE_DAYS, parseSeriesParams, type SeriesParams } from '../queries/seriesParams';
import type { CachedRead } from './cachedReads';
import { ErrorResponse } from './errorMapping';
import { JSON_TYPE, serialised, writeRepresentation, type Representation } from './representation';
import { documentedRoute, mount, sharedResponse } from './openapi/routeTable';

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

export const MetricSeriesResponse = z
  .object({
    from: z.iso.date(),
    to: z.iso.date(),
    tz: z.string(),
    interval: z.enum(['day', 'week', 'month']),
    series: z
      .array(z.object({ date: z.iso.date(), metrics: z.array(TypeMetrics) }))
      .meta({ description: 'Every bucket of the range in order, [] metrics when empty; types sorted' }),
    totals: z
      .array(TypeMetrics)
      .meta({ description: 'Over the whole range; uniqueUsers distinct over it, not a sum' }),
    incompleteDays: z.array(z.iso.date()).optional().meta({
      description:
        'Only for logs processed before EventsProcessed v2: UTC days whose events are known per UTC day only; they count only in buckets holding the whole UTC day and never in uniqueUsers',
    }),
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

/** RFC 4180 quoting; a leading = + - @ is neutralised so a spreadsheet shows the name, not a formula. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

const csvAnswers = new WeakMap<MetricSeries, { csv: string }>();

/** The CSV of an answer, made once per answer like its JSON. */
function csvOf(answer: MetricSeries): { csv: string } {
  let done = csvAnswers.get(answer);
  if (done === undefined) {
    const rows = ['date,eventType,count,uniqueUsers'];
    for (const { date, metrics } of answer.series)
      for (const m of metrics) rows.push(`${date},${csvField(m.eventType)},${m.count},${m.uniqueUsers}`);
    done = { csv: `${rows.join('\r\n')}\r\n` };
    csvAnswers.set(answer, done);
  }
  return done;
}

const gzipped = new WeakMap<object, Buffer>();
/** Answers below this size go uncompressed: gzip would save little. */
const GZIP_MIN_BYTES = 1024;

/**
 * An answer with its ETag, gzipped (once per answer) for a client that accepts it: a year of 50
 * types is about 1 MB of JSON and 80 KB gzipped, and at 50 connections sending the plain body was
 * what the route spent its time on. Each encoding has its own ETag, as RFC 9110 asks.
 */
function encoded(
  req: IncomingMessage,
  answer: { body: Buffer; etag: string },
  type: string,
  headers?: Record<string, string>,
): Representation {
  const vary = ['Accept', 'Accept-Encoding'];
  if (answer.body.length < GZIP_MIN_BYTES || accepts(req).encoding(['gzip', 'identity']) !== 'gzip') {
    return { type, vary, headers, ...answer };
  }
  let body = gzipped.get(answer);
  if (body === undefined) {
    body = gzipSync(answer.body);
    gzipped.set(answer, body);
  }
  return { type, vary, headers, body, etag: `${answer.etag.slice(0, -1)}-gzip"`, encoding: 'gzip' };
}

/** The parameters asked for, and whether as CSV (format=csv, or Accept preferring text/csv). */
function seriesQuestion(
  req: IncomingMessage,
  query: Record<string, unknown>,
): { params: SeriesParams; csv: boolean } {
  const params = parseSeriesParams(query);
  const format = query.format;
  if (format !== undefined && format !== 'json' && format !== 'csv') {
    throw new ValidationError('format must be json or csv', { parameter: 'format', value: format });
  }
  const csv = format === 'csv' || (format === undefined && accepts(req).type(['json', 'csv']) === 'csv');
  return { params, csv };
}

function seriesRepresentation(
  req: IncomingMessage,
  { params, csv }: { params: SeriesParams; csv: boolean },
  answer: z.infer<typeof MetricSeriesResponse>,
): Representation {
  if (!csv) return encoded(req, serialised(answer), JSON_TYPE);
  return encoded(
    req,
    serialised(csvOf(answer), (o) => o.csv),
    'text/csv; charset=utf-8',
    { 'Content-Disposition': `attachment; filename="metrics-${params.from}-${params.to}.csv"` },
  );
}

export function metricSeriesRouter(deps: { getMetricSeries: GetMetricSeries }): Router {
  const router = Router();
  mount(router, seriesRoutes.getMetricSeries, async (req, res) => {
    const question = seriesQuestion(req, req.query);
    const answer = await deps.getMetricSeries(question.params);
    writeRepresentation(req, res, seriesRepresentation(req, question, answer));
  });
  return router;
}

/** `GET /api/metrics/series` answered by the cached-read front when the answer is cached. */
export function cachedMetricSeries(deps: { getMetricSeries: GetMetricSeries }): CachedRead {
  return {
    path: seriesRoutes.getMetricSeries.path,
    answerNow(query, req) {
      const question = seriesQuestion(req, query);
      return deps.getMetricSeries
        .ready(question.params)
        ?.then((answer) => seriesRepresentation(req, question, answer));
    },
  };
}
