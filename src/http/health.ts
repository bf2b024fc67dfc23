import { Router } from 'express';
import type { CheckHealth } from '../queries/checkHealth';

export function healthRouter(checkHealth: CheckHealth): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const health = await checkHealth();
    res.status(health.status === 'ok' ? 200 : 503).json(health);
  });
  return router;
}
