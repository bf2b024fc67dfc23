import { Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors';
import type { GetDailyMetrics } from '../queries/getDailyMetrics';

export const MetricsQuery = z.object({
  date: z.iso
    .date()
    .optional()
    .meta({ description: 'UTC calendar date YYYY-MM-DD; today (UTC) when omitted', example: '2024-01-15' }),
});

export const DailyMetricsResponse = z
  .object({
    date: z.iso.date(),
    metrics: z
      .array(z.object({ eventType: z.string(), count: z.number().int().positive() }))
      .meta({ description: 'Processed events of that UTC day per event type, by eventType; [] when none' }),
  })
  .meta({
    example: {
      date: '2024-01-15',
      metrics: [
        { eventType: 'click', count: 150 },
        { eventType: 'purchase', count: 25 },
      ],
    },
  });

export function metricsRouter(deps: { getDailyMetrics: GetDailyMetrics }): Router {
  const router = Router();
  /**
   * @openapi
   * /api/metrics:
   *   get:
   *     tags: [Metrics]
   *     summary: Event counts per event type for one UTC day
   *     description: Counts come from processed batches only (POST /api/batches/{id}/process).
   *     parameters:
   *       - name: date
   *         in: query
   *         schema: { $ref: '#/components/schemas/MetricsQuery/properties/date' }
   *     responses:
   *       '200':
   *         description: Counts of processed events
   *         content:
   *           application/json:
   *             schema: { $ref: '#/components/schemas/DailyMetricsResponse' }
   *       '400': { $ref: '#/components/responses/BadRequest' }
   *       '503': { $ref: '#/components/responses/ServiceUnavailable' }
   */
  router.get('/api/metrics', async (req, res) => {
    // A repeated or nested ?date fails here as a malformed one does.
    const query = MetricsQuery.safeParse(req.query);
    if (!query.success) {
      throw new ValidationError(
        'date must be a calendar date written as YYYY-MM-DD (UTC)',
        z.treeifyError(query.error),
      );
    }
    const body: z.infer<typeof DailyMetricsResponse> = await deps.getDailyMetrics(query.data.date);
    res.json(body);
  });
  return router;
}
