import { createHash } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors';
import type { GetDailyMetrics } from '../queries/getDailyMetrics';
import { documentedRoute, mount, sharedResponse } from './openapi/routeTable';

export const MetricsQuery = z.object({
  date: z.iso.date().optional().meta({
    description: 'UTC calendar date, YYYY-MM-DD. Optional; defaults to today (UTC).',
    example: '2024-01-15',
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
    summary: 'Event counts per event type for one UTC day',
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

export function metricsRouter(deps: { getDailyMetrics: GetDailyMetrics }): Router {
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
    const answer: z.infer<typeof DailyMetricsResponse> = await deps.getDailyMetrics(query.data.date);
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

function serialised(answer: object): { body: string; etag: string } {
  let done = serialisedAnswers.get(answer);
  if (done === undefined) {
    const body = JSON.stringify(answer);
    done = { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
    serialisedAnswers.set(answer, done);
  }
  return done;
}
