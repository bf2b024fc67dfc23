import { apiDocsRoutes } from '../apiDocs';
import { batchRoutes } from '../batches';
import { eventsRoutes } from '../events';
import { healthRoutes } from '../health';
import { metricsRoutes } from '../metrics';
import { seriesRoutes } from '../metricSeriesRoute';
import { prometheusRoutes } from '../prometheus';
import { queueRoutes } from '../queues';
import { retractRoutes } from '../retractBatch';
import { uploadRoutes } from '../uploads';
import { userRoutes } from '../users';
import type { DocumentedRoute } from './routeTable';

/** Every route the OpenAPI document shows, in the order Swagger UI lists them. */
export const DOCUMENTED_ROUTES: readonly DocumentedRoute[] = [
  ...Object.values(uploadRoutes),
  ...Object.values(eventsRoutes),
  ...Object.values(batchRoutes),
  ...Object.values(retractRoutes),
  ...Object.values(metricsRoutes),
  ...Object.values(seriesRoutes),
  ...Object.values(queueRoutes),
  ...Object.values(userRoutes),
  ...Object.values(healthRoutes),
  ...Object.values(prometheusRoutes),
  ...Object.values(apiDocsRoutes),
];
