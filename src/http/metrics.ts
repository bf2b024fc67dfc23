import { Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors';
import type { GetDailyMetrics } from '../queries/getDailyMetrics';
import type { GetDailyMetricsInZone } from '../queries/getDailyMetricsInZone';
import { timeZoneParam } from '../queries/seriesParams';
import type { CachedRead } from './cachedReads';
import { documentedRoute, mount, sharedResponse } from './openapi/routeTable';
import { JSON_TYPE, serialised, writeRepresentation, type Representation } from './representation';

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

interface DailyMetricsDeps {
  getDailyMetrics: GetDailyMetrics;
  getDailyMetricsInZone: GetDailyMetricsInZone;
}

/** The day and zone asked for; a repeated or nested ?date fails as a malformed one does. */
function dailyQuestion(query: Record<string, unknown>): { date: string | undefined; tz: string } {
  const parsed = MetricsQuery.safeParse(query);
  if (!parsed.success) {
    throw new ValidationError(
      'date must be a calendar date written as YYYY-MM-DD (UTC)',
      z.treeifyError(parsed.error),
    );
  }
  return { date: parsed.data.date, tz: timeZoneParam(query) };
}

function dailyRepresentation(answer: z.infer<typeof DailyMetricsResponse>): Representation {
  return { type: JSON_TYPE, vary: [], ...serialised(answer) };
}

export function metricsRouter(deps: DailyMetricsDeps): Router {
  const router = Router();
  mount(router, metricsRoutes.getDailyMetrics, async (req, res) => {
    const { date, tz } = dailyQuestion(req.query);
    const answer =
      tz === 'UTC' ? await deps.getDailyMetrics(date) : await deps.getDailyMetricsInZone(date, tz);
    writeRepresentation(req, res, dailyRepresentation(answer));
  });
  return router;
}

/** `GET /api/metrics` answered by the cached-read front when the day's answer is cached. */
export function cachedDailyMetrics(deps: DailyMetricsDeps): CachedRead {
  return {
    path: metricsRoutes.getDailyMetrics.path,
    answerNow(query) {
      const { date, tz } = dailyQuestion(query);
      const answer =
        tz === 'UTC' ? deps.getDailyMetrics.ready(date) : deps.getDailyMetricsInZone.ready(date, tz);
      return answer?.then(dailyRepresentation);
    },
  };
}
