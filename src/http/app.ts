import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import type { Config } from '../config';
import type { Logger } from '../logging';
import type { UploadBatch } from '../commands/uploadBatch/uploadBatch';
import type { ServiceMetrics } from '../metrics/serviceMetrics';
import type { CheckHealth } from '../queries/checkHealth';
import { apiDocsRouter } from './apiDocs';
import type { GetDailyMetrics } from '../queries/getDailyMetrics';
import type { GetDailyMetricsInZone } from '../queries/getDailyMetricsInZone';
import type { GetMetricSeries } from '../queries/getMetricSeries';
import { correlationId } from './correlationId';
import { errorResponder, notFoundResponder } from './errorMapping';
import { batchesRouter, type BatchesRouterDeps } from './batches';
import { retractRouter } from './retractBatch';
import type { RetractBatch } from '../commands/retractBatch';
import { healthRouter } from './health';
import type { OpenApiDocument } from './openapi/document';
import { httpMetrics, prometheusRouter } from './prometheus';
import { cachedDailyMetrics, metricsRouter } from './metrics';
import { cachedMetricSeries, metricSeriesRouter } from './metricSeries';
import { cachedReadFront } from './cachedReads';
import { queuesRouter, type QueuesRouterDeps } from './queues';
import { usersRouter, type UsersRouterDeps } from './users';
import { requestLogger } from './requestLogger';
import { uploadsRouter } from './uploads';
import { eventsRouter } from './events';
import { createPostGroups } from './postGroups';
import type { EventBudget } from './eventBudget';
import { defaultSpoolDir } from '../commands/uploadBatch/spool';
import { webUiRouter } from './webUi';
import { corsAllowList, securityHeaderList, securityHeaders } from './security';
import { refuseCrossSiteWrites } from './crossSiteGuard';

export interface AppDeps {
  config: Config;
  logger: Logger;
  checkHealth: CheckHealth;
  uploadBatch: UploadBatch;
  uploadRateLimiter: RequestHandler;
  eventBudget: EventBudget;
  metrics: ServiceMetrics;
  openApiDocument: OpenApiDocument;
  batches: BatchesRouterDeps;
  retractBatch: RetractBatch;
  getDailyMetrics: GetDailyMetrics;
  getDailyMetricsInZone: GetDailyMetricsInZone;
  getMetricSeries: GetMetricSeries;
  queues: Omit<QueuesRouterDeps, 'apiKey'>;
  users: Omit<UsersRouterDeps, 'apiKey'>;
}

/** Groups of posted events stored at once by one API process (docs/performance.md). */
const STORES_IN_FLIGHT = 2;

/** Builds the Express app from ready-made handlers; it opens no connections itself. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Off by default: req.ip is then the TCP peer and X-Forwarded-For is ignored (rate limit, logs).
  app.set('trust proxy', deps.config.http.trustProxy);

  // First, so every answer (404, 413, 429, errors) carries X-Correlation-ID and is counted.
  app.use(correlationId);
  app.use(httpMetrics(deps.metrics));
  app.use(requestLogger(deps.logger));
  app.use(securityHeaders());
  app.use(corsAllowList(deps.config.http.corsOrigins));
  // Before any body is read or any upload is counted against the rate limit.
  app.use(refuseCrossSiteWrites(deps.config.http.corsOrigins));
  // Before the JSON body parser: POST /api/events streams its own body, up to MAX_UPLOAD_BYTES.
  app.use(
    eventsRouter({
      maxBytes: deps.config.uploads.maxBytes,
      budget: deps.eventBudget,
      groups: createPostGroups({
        uploadBatch: deps.uploadBatch,
        spoolDir: defaultSpoolDir(),
        logger: deps.logger,
        windowMs: deps.config.posts.groupWindowMs,
        maxEvents: deps.config.posts.groupMaxEvents,
        maxWaiting: deps.config.posts.maxWaiting,
        storesInFlight: STORES_IN_FLIGHT,
      }),
      metrics: deps.metrics,
    }),
  );
  app.use(express.json({ limit: deps.config.http.jsonBodyLimitBytes }));

  // The hottest read first: every router a request passes costs it route matching.
  app.use(
    metricsRouter({
      getDailyMetrics: deps.getDailyMetrics,
      getDailyMetricsInZone: deps.getDailyMetricsInZone,
    }),
  );
  app.use(metricSeriesRouter({ getMetricSeries: deps.getMetricSeries }));
  app.use(healthRouter(deps.checkHealth));
  app.use(prometheusRouter(deps.metrics));
  app.use(apiDocsRouter(deps.openApiDocument));
  // Resource routers are mounted at the root with their full paths (`/api/...`) so the
  // metrics label and the routes-documented test see the whole route pattern.
  app.use(
    uploadsRouter({
      uploadBatch: deps.uploadBatch,
      maxBytes: deps.config.uploads.maxBytes,
      rateLimiter: deps.uploadRateLimiter,
      maxConcurrent: deps.config.uploads.maxConcurrent,
      slotWaitMs: deps.config.uploads.slotWaitMs,
      metrics: deps.metrics,
      autoProcess: deps.config.uploads.autoProcess,
      logger: deps.logger,
    }),
  );
  app.use(batchesRouter(deps.batches));
  app.use(retractRouter({ apiKey: deps.config.admin.apiKey, retractBatch: deps.retractBatch }));
  app.use(queuesRouter({ apiKey: deps.config.admin.apiKey, ...deps.queues }));
  app.use(usersRouter({ apiKey: deps.config.admin.apiKey, ...deps.users }));
  app.use(webUiRouter());

  app.use(notFoundResponder);
  app.use(errorResponder(deps.logger));
  return app;
}

export interface HttpHandlers {
  app: Express;
  /** The cached-read front (cachedReads.ts): true when it has answered the request. */
  answeredFromCache: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export function createHttpHandlers(deps: AppDeps): HttpHandlers {
  const app = createApp(deps);
  return {
    app,
    answeredFromCache: deps.config.cachedReadFront
      ? cachedReadFront({
          reads: [cachedDailyMetrics(deps), cachedMetricSeries(deps)],
          securityHeaders: securityHeaderList(),
          metrics: deps.metrics,
          logger: deps.logger,
          orElse: app,
        })
      : () => false,
  };
}

/** What the HTTP server runs: the cached-read front, then the Express app. */
export function requestListenerOf({ app, answeredFromCache }: HttpHandlers) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (!answeredFromCache(req, res)) app(req, res);
  };
}
