import express, { type Express } from 'express';
import type { Config } from '../config';
import type { Logger } from '../logging';
import type { UploadBatch } from '../commands/uploadBatch/uploadBatch';
import type { CheckHealth } from '../queries/checkHealth';
import { correlationId } from './correlationId';
import { errorResponder, notFoundResponder } from './errorMapping';
import { healthRouter } from './health';
import { requestLogger } from './requestLogger';
import { uploadsRouter } from './uploads';
import { webUiRouter } from './webUi';

export interface AppDeps {
  config: Config;
  logger: Logger;
  checkHealth: CheckHealth;
  uploadBatch: UploadBatch;
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
  app.use(uploadsRouter({ uploadBatch: deps.uploadBatch, maxBytes: deps.config.uploads.maxBytes }));
  app.use(webUiRouter());

  app.use(notFoundResponder);
  app.use(errorResponder(deps.logger));
  return app;
}
