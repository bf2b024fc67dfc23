/**
 * Documentation of routes whose routers are being built elsewhere (see ../provisionalSchemas.ts).
 * When src/http/batches.ts lands, move these blocks above its routes and delete this file.
 */

/**
 * @openapi
 * components:
 *   parameters:
 *     BatchId:
 *       name: id
 *       in: path
 *       required: true
 *       description: Batch id returned by POST /api/uploads
 *       schema: { type: string, format: uuid }
 * /api/batches:
 *   get:
 *     tags: [Batches]
 *     summary: List batches, newest first
 *     parameters:
 *       - name: limit
 *         in: query
 *         schema: { type: integer, minimum: 1, maximum: 100, default: 20 }
 *       - name: cursor
 *         in: query
 *         description: nextCursor of the previous page
 *         schema: { type: string }
 *     responses:
 *       '200':
 *         description: One page of batches
 *         content:
 *           application/json:
 *             schema: { $ref: '#/components/schemas/BatchList' }
 *       '400': { $ref: '#/components/responses/BadRequest' }
 *       '503': { $ref: '#/components/responses/ServiceUnavailable' }
 * /api/batches/{id}:
 *   get:
 *     tags: [Batches]
 *     summary: Status and progress of one batch
 *     parameters:
 *       - $ref: '#/components/parameters/BatchId'
 *     responses:
 *       '200':
 *         description: The batch
 *         content:
 *           application/json:
 *             schema: { $ref: '#/components/schemas/BatchStatus' }
 *       '404': { $ref: '#/components/responses/NotFound' }
 *       '503': { $ref: '#/components/responses/ServiceUnavailable' }
 * /api/batches/{id}/process:
 *   post:
 *     tags: [Batches]
 *     summary: Enqueue background processing of a batch
 *     description: Idempotent; a batch already processed or in progress enqueues nothing (200).
 *     parameters:
 *       - $ref: '#/components/parameters/BatchId'
 *     responses:
 *       '202':
 *         description: Jobs enqueued
 *         content:
 *           application/json:
 *             schema: { $ref: '#/components/schemas/ProcessBatchResponse' }
 *       '200':
 *         description: Nothing to enqueue (jobsEnqueued is 0)
 *         content:
 *           application/json:
 *             schema: { $ref: '#/components/schemas/ProcessBatchResponse' }
 *       '404': { $ref: '#/components/responses/NotFound' }
 *       '503': { $ref: '#/components/responses/ServiceUnavailable' }
 */
export const pendingBatchRoutes = [
  'GET /api/batches',
  'GET /api/batches/{id}',
  'POST /api/batches/{id}/process',
] as const;
