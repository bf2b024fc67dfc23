import { Router } from 'express';
import { z } from 'zod';
import type { GetDailyMetrics } from '../queries/getDailyMetrics';

export const MetricsQuery = z.object({
  date: z.string().optional().describe('UTC calendar date YYYY-MM-DD; today (UTC) when omitted'),
});

export const DailyMetricsResponse = z.object({
  date: z.string(),
  metrics: z.array(z.object({ eventType: z.string(), count: z.number().int().positive() })),
});

export function metricsRouter(deps: { getDailyMetrics: GetDailyMetrics }): Router {
  const router = Router();
  router.get('/api/metrics', async (req, res) => {
    const raw = req.query.date;
    // A repeated or nested ?date is as wrong as a malformed one: the query rejects ''.
    const given = raw === undefined ? undefined : typeof raw === 'string' ? raw : '';
    const body: z.infer<typeof DailyMetricsResponse> = await deps.getDailyMetrics(given);
    res.json(body);
  });
  return router;
}
