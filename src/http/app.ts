import express, { type Express } from 'express';
import type { Config } from '../config';
import type { Logger } from '../logging';
import type { CheckHealth } from '../queries/checkHealth';
import type { GetDailyMetrics } from '../queries/getDailyMetrics';
import { correlationId } from './correlationId';
import { errorResponder, notFoundResponder } from './errorMapping';
import { batchesRouter, type BatchesRouterDeps } from './batches';
import { healthRouter } from './health';
import { metricsRouter } from './metrics';
import { queuesRouter, type QueuesRouterDeps } from './queues';
import { requestLogger } from './requestLogger';

export interface AppDeps {
  config: Config;
  logger: Logger;
  checkHealth: CheckHealth;
  batches: BatchesRouterDeps;
  getDailyMetrics: GetDailyMetrics;
  queues: Omit<QueuesRouterDeps, 'apiKey'>;
}

/** Builds the Express app from ready-made handlers; it opens no connections itself. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.http.trustProxy);

  app.use(correlationId);
  app.use(requestLogger(deps.logger));
  app.use(express.json({ limit: '100kb' }));

  app.use(healthRouter(deps.checkHealth));
  app.use(batchesRouter(deps.batches));
  app.use(metricsRouter({ getDailyMetrics: deps.getDailyMetrics }));
  app.use(queuesRouter({ apiKey: deps.config.admin.apiKey, ...deps.queues }));

  app.use(notFoundResponder);
  app.use(errorResponder(deps.logger));
  return app;
}
