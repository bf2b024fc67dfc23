import { createHash } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors';
import type { GetDailyMetrics } from '../queries/getDailyMetrics';
import type { GetDailyMetricsInZone } from '../queries/getDailyMetricsInZone';
import { timeZoneParam } from '../queries/seriesParams';
import { documentedRoute, mount, sharedResponse } from './openapi/routeTable';

export const MetricsQuery = z.object({
  date: z.iso.date().optional().meta({
    description:
      'Calendar date, YYYY-MM-DD, local to tz. Optional; defaults to today (UTC), or to today in tz when tz is given.',
    example: '2024-01-15',
  }),
  tz: z.string().optional().meta({
    description:
      'IANA time zone the date is local to (default UTC, which answers from the per-UTC-day read model); the day runs from local midnight to local midnight',
    example: 'UTC',
  }),
});

export const DailyMetricsResponse = z
  .object({
    date: z.iso.date(),
    metrics: z
      .array(z.object({ eventType: z.string(), count: z.number().int().positive() }))
      .meta({ description: 'Processed events of that UTC day per event type, by eventType; [] when none' }),
  })
  .meta({
    id: 'DailyMetricsResponse',
    example: {
      date: '2024-01-15',
      metrics: [
        { eventType: 'click', count: 2 },
        { eventType: 'purchase', count: 1 },
      ],
    },
  });

export const metricsRoutes = {
  getDailyMetrics: documentedRoute({
    method: 'get',
    path: '/api/metrics',
    tags: ['Metrics'],
    summary: 'Event counts per event type for one day (UTC, or the local day of tz)',
    description: 'Counts come from processed batches only (POST /api/batches/{id}/process).',
    request: { query: MetricsQuery },
    responses: {
      200: {
        description: 'Counts of processed events',
        headers: {
          ETag: {
            description: 'Changes whenever the answer does; send it back as If-None-Match',
            schema: { type: 'string' },
          },
        },
        content: { 'application/json': { schema: DailyMetricsResponse } },
      },
      304: { description: 'The answer still matches the If-None-Match ETag; no body' },
      400: sharedResponse('BadRequest'),
      503: sharedResponse('ServiceUnavailable'),
    },
  }),
};

export function metricsRouter(deps: {
  getDailyMetrics: GetDailyMetrics;
  getDailyMetricsInZone: GetDailyMetricsInZone;
}): Router {
  const router = Router();
  mount(router, metricsRoutes.getDailyMetrics, async (req, res) => {
    // A repeated or nested ?date fails here as a malformed one does.
    const query = MetricsQuery.safeParse(req.query);
    if (!query.success) {
      throw new ValidationError(
        'date must be a calendar date written as YYYY-MM-DD (UTC)',
        z.treeifyError(query.error),
      );
    }
    const tz = timeZoneParam(req.query);
    const answer: z.infer<typeof DailyMetricsResponse> =
      tz === 'UTC'
        ? await deps.getDailyMetrics(query.data.date)
        : await deps.getDailyMetricsInZone(query.data.date, tz);
    const { body, etag } = serialised(answer);
    // With the ETag set, Express answers a matching If-None-Match with 304 and hashes nothing.
    res.setHeader('ETag', etag);
    res.type('json').send(body);
  });
  return router;
}

/**
 * Each answer's JSON and ETag, made once: the query's cache hands out the same answer object for
 * METRICS_CACHE_MS, and under load serialising and hashing it per request was a measurable share
 * of the route's time.
 */
const serialisedAnswers = new WeakMap<object, { body: string; etag: string }>();

export function serialised(
  answer: object,
  text: (answer: object) => string = (a) => JSON.stringify(a),
): { body: string; etag: string } {
  let done = serialisedAnswers.get(answer);
  if (done === undefined) {
    const body = text(answer);
    done = { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
    serialisedAnswers.set(answer, done);
  }
  return done;
}
