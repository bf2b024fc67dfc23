/**
 * Documentation of a route whose router is being built elsewhere (see ../provisionalSchemas.ts).
 * When src/http/metrics.ts lands, move this block above its route and delete this file.
 */

/**
 * @openapi
 * /api/metrics:
 *   get:
 *     tags: [Metrics]
 *     summary: Event counts per event type for one UTC day
 *     parameters:
 *       - name: date
 *         in: query
 *         description: UTC day, YYYY-MM-DD (default today)
 *         schema: { type: string, format: date }
 *         example: '2024-01-15'
 *     responses:
 *       '200':
 *         description: Counts of processed events
 *         content:
 *           application/json:
 *             schema: { $ref: '#/components/schemas/MetricsResponse' }
 *       '400': { $ref: '#/components/responses/BadRequest' }
 *       '503': { $ref: '#/components/responses/ServiceUnavailable' }
 */
export const pendingMetricsRoutes = ['GET /api/metrics'] as const;
