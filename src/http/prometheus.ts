import { Router, type Request, type RequestHandler } from 'express';
import type { ServiceMetrics } from '../metrics/serviceMetrics';
import { documentedRoute, mount } from './openapi/routeTable';

/** Label for requests no route matched (404s, static assets, bodies refused before routing). */
export const UNMATCHED_ROUTE = '(unmatched)';

/** The Express route pattern that handled the request (`/api/batches/:id`), never the raw path. */
function routePattern(req: Request): string {
  const route: unknown = req.route;
  if (typeof route === 'object' && route !== null && 'path' in route && typeof route.path === 'string') {
    return `${req.baseUrl}${route.path}`;
  }
  return UNMATCHED_ROUTE;
}

/** Times every request and counts it by method, route pattern and status once the answer is sent. */
export function httpMetrics(metrics: ServiceMetrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      metrics.observeHttpRequest({
        method: req.method,
        route: routePattern(req),
        status: res.statusCode,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    });
    next();
  };
}

export const prometheusRoutes = {
  readMetrics: documentedRoute({
    method: 'get',
    path: '/metrics',
    tags: ['Operations'],
    summary: 'Prometheus metrics',
    description:
      'Text exposition format. Series: ems_http_requests_total, ems_http_request_duration_seconds ' +
      '(by method, route pattern, status), ems_uploads_total, ems_upload_rows_total (by result), ' +
      'ems_queue_jobs (by queue and state), ems_projection_lag_records (by projection) and the ' +
      'default Node.js process metrics (prefixed ems_).',
    responses: {
      200: {
        description: 'Current values',
        content: {
          'text/plain': { schema: { type: 'string' }, example: 'ems_uploads_total{result="accepted"} 3' },
        },
      },
    },
  }),
};

export function prometheusRouter(metrics: ServiceMetrics): Router {
  const router = Router();
  mount(router, prometheusRoutes.readMetrics, async (_req, res) => {
    const body = await metrics.registry.metrics();
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(body);
  });
  return router;
}
