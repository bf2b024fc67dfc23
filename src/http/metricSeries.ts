import type { IncomingMessage } from 'node:http';
import { gzipSync } from 'node:zlib';
import accepts from 'accepts';
import { Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors';
import type { GetMetricSeries, MetricSeries } from '../queries/getMetricSeries';
import { parseSeriesParams, type SeriesParams } from '../queries/seriesParams';
import { MetricSeriesResponse, seriesRoutes } from './metricSeriesRoute';
import { previousRange, seriesAnswer, type SeriesAnswer } from '../queries/seriesPeriods';
import type { CachedRead } from './cachedReads';
import { JSON_TYPE, serialised, writeRepresentation, type Representation } from './representation';
import { mount } from './openapi/routeTable';

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
    // Copied out: zlib's sync output is a view of a buffer of at least 16 KiB, kept beside the
    // cached answer as long as it is.
    body = Buffer.from(gzipSync(answer.body));
    gzipped.set(answer, body);
  }
  return { type, vary, headers, body, etag: `${answer.etag.slice(0, -1)}-gzip"`, encoding: 'gzip' };
}

interface SeriesQuestion {
  params: SeriesParams;
  csv: boolean;
  /** The previous period's parameters, with compare=previous */
  previous: SeriesParams | undefined;
}

/** compare=previous: the period before, refused for CSV (its rows have no place for it). */
function previousParams(query: Record<string, unknown>, params: SeriesParams, csv: boolean) {
  const compare = query.compare;
  if (compare === undefined) return undefined;
  if (compare !== 'previous')
    throw new ValidationError('compare must be previous', { parameter: 'compare', value: compare });
  if (csv)
    throw new ValidationError('compare=previous is answered as JSON only; leave out format=csv', {
      parameter: 'compare',
      value: compare,
    });
  const previous = previousRange(params);
  if (previous.from < '0001-01-01')
    throw new ValidationError('compare=previous would start before the year 1', {
      parameter: 'compare',
      value: compare,
    });
  return previous;
}

/** The parameters asked for, whether as CSV (format=csv, or Accept preferring text/csv), and the comparison. */
function seriesQuestion(req: IncomingMessage, query: Record<string, unknown>): SeriesQuestion {
  const params = parseSeriesParams(query);
  const format = query.format;
  if (format !== undefined && format !== 'json' && format !== 'csv') {
    throw new ValidationError('format must be json or csv', { parameter: 'format', value: format });
  }
  const csv = format === 'csv' || (format === undefined && accepts(req).type(['json', 'csv']) === 'csv');
  return { params, csv, previous: previousParams(query, params, csv) };
}

/**
 * The answer sent for the query's answers, one object per pair while they are cached, so its JSON,
 * ETag and gzip are made once per answer as before.
 */
const answersSent = new WeakMap<MetricSeries, WeakMap<MetricSeries, SeriesAnswer>>();
const alone = new WeakMap<MetricSeries, SeriesAnswer>();

function answerSent(current: MetricSeries, previous?: MetricSeries): SeriesAnswer {
  if (previous === undefined) {
    let sent = alone.get(current);
    if (sent === undefined) alone.set(current, (sent = seriesAnswer(current)));
    return sent;
  }
  let byPrevious = answersSent.get(current);
  if (byPrevious === undefined) answersSent.set(current, (byPrevious = new WeakMap()));
  let sent = byPrevious.get(previous);
  if (sent === undefined) byPrevious.set(previous, (sent = seriesAnswer(current, previous)));
  return sent;
}

function seriesRepresentation(
  req: IncomingMessage,
  { params, csv }: SeriesQuestion,
  answer: MetricSeries,
  sent: z.infer<typeof MetricSeriesResponse>,
): Representation {
  if (!csv) return encoded(req, serialised(sent), JSON_TYPE);
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
    const [current, previous] = await Promise.all([
      deps.getMetricSeries(question.params),
      question.previous === undefined ? undefined : deps.getMetricSeries(question.previous),
    ]);
    const sent = answerSent(current, previous);
    writeRepresentation(req, res, seriesRepresentation(req, question, current, sent));
  });
  return router;
}

/** `GET /api/metrics/series` answered by the cached-read front when the answer is cached. */
export function cachedMetricSeries(deps: { getMetricSeries: GetMetricSeries }): CachedRead {
  return {
    path: seriesRoutes.getMetricSeries.path,
    answerNow(query, req) {
      const question = seriesQuestion(req, query);
      const current = deps.getMetricSeries.ready(question.params);
      if (current === undefined) return undefined;
      if (question.previous === undefined)
        return current.then((answer) => seriesRepresentation(req, question, answer, answerSent(answer)));
      const previous = deps.getMetricSeries.ready(question.previous);
      if (previous === undefined) return undefined;
      return Promise.all([current, previous]).then(([answer, before]) =>
        seriesRepresentation(req, question, answer, answerSent(answer, before)),
      );
    },
  };
}
