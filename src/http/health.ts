import { Router } from 'express';
import { z } from 'zod';
import type { CheckHealth } from '../queries/checkHealth';
import { RETRY_AFTER_UNAVAILABLE_SECONDS } from './errorMapping';
import { documentedRoute, mount } from './openapi/routeTable';

/** The projections of a fresh service, caught up. */
const EXAMPLE_PROJECTIONS = [
  { projection: 'batchStatus_v1', lag: 0, laggingSeconds: 0 },
  { projection: 'dailyMetrics_v1', lag: 0, laggingSeconds: 0 },
  { projection: 'metricSeries_v1', lag: 0, laggingSeconds: 0 },
];

const CheckResult = z.enum(['ok', 'unavailable', 'timeout']);

export const HealthResponse = z
  .object({
    status: z.enum(['ok', 'degraded', 'unavailable']).meta({
      description:
        'ok; degraded (still 200): something is slow or stuck, and `problems` says what (a dependency ' +
        'answering slowly, a projection lagging or failing, an interrupted upload not yet purged); ' +
        'unavailable (503): MongoDB or Redis cannot be reached',
    }),
    checks: z.object({
      mongo: CheckResult.meta({ description: 'timeout: reachable but slower than HEALTH_TIMEOUT_MS' }),
      redis: CheckResult,
      projections: z.enum(['ok', 'lagging', 'failing', 'unknown']).meta({
        description: 'failing: a projector keeps failing to write its read model (see problems)',
      }),
      uploads: z.enum(['ok', 'stuck', 'unknown']).meta({
        description: 'stuck: an interrupted upload was not purged yet, or purging it keeps failing',
      }),
    }),
    projections: z.array(
      z.object({
        projection: z.string(),
        lag: z.number().int().nonnegative().meta({ description: 'Log records not yet applied' }),
        laggingSeconds: z
          .number()
          .int()
          .nonnegative()
          .meta({ description: 'How long the lag has been over the limit (0 when under it)' }),
      }),
    ),
    problems: z.array(z.string()).meta({
      description:
        'One sentence per problem: what, since when and why (a check that timed out says which, and after how long); never empty unless status is ok',
    }),
  })
  .meta({
    id: 'HealthResponse',
    example: {
      status: 'ok',
      checks: { mongo: 'ok', redis: 'ok', projections: 'ok', uploads: 'ok' },
      projections: EXAMPLE_PROJECTIONS,
      problems: [],
    },
  });

export const healthRoutes = {
  checkHealth: documentedRoute({
    method: 'get',
    path: '/health',
    tags: ['Operations'],
    summary: 'Liveness and dependency health',
    description:
      'Pings MongoDB and Redis (each within HEALTH_TIMEOUT_MS) and checks projection lag. Concurrent calls ' +
      'share one evaluation, and its answer is reused for one second.',
    responses: {
      200: {
        description: 'Serving (status ok or degraded)',
        content: { 'application/json': { schema: HealthResponse } },
      },
      503: {
        description: 'MongoDB or Redis is unavailable',
        headers: { 'Retry-After': { $ref: '#/components/headers/Retry-After' } },
        content: {
          'application/json': {
            schema: HealthResponse,
            example: {
              status: 'unavailable',
              checks: { mongo: 'ok', redis: 'unavailable', projections: 'ok', uploads: 'ok' },
              projections: EXAMPLE_PROJECTIONS,
              problems: ['redis: unavailable'],
            },
          },
        },
      },
    },
  }),
};

export function healthRouter(checkHealth: CheckHealth): Router {
  const router = Router();
  mount(router, healthRoutes.checkHealth, async (_req, res) => {
    // Typed by the schema: the compiler proves checkHealth returns what the document promises.
    const health: z.infer<typeof HealthResponse> = await checkHealth();
    if (health.status === 'unavailable') {
      res.setHeader('Retry-After', String(RETRY_AFTER_UNAVAILABLE_SECONDS));
      res.status(503);
    }
    res.json(health);
  });
  return router;
}
