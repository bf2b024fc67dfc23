/**
 * Documentation of routes whose router is being built elsewhere (see ../provisionalSchemas.ts).
 * When src/http/queues.ts lands, move these blocks above its routes and delete this file.
 */

/**
 * @openapi
 * components:
 *   parameters:
 *     QueueName:
 *       name: name
 *       in: path
 *       required: true
 *       description: Queue name; only event-processing exists
 *       schema: { type: string, enum: [event-processing] }
 * /api/queues/{name}/dlq:
 *   get:
 *     tags: [Admin]
 *     summary: Failed jobs (dead-letter queue)
 *     security: [{ AdminApiKey: [] }]
 *     parameters:
 *       - $ref: '#/components/parameters/QueueName'
 *       - name: limit
 *         in: query
 *         schema: { type: integer, minimum: 1, maximum: 1000, default: 100 }
 *     responses:
 *       '200':
 *         description: Failed jobs, newest first
 *         content:
 *           application/json:
 *             schema: { $ref: '#/components/schemas/DlqResponse' }
 *       '400': { $ref: '#/components/responses/BadRequest' }
 *       '401': { $ref: '#/components/responses/Unauthorized' }
 *       '503': { $ref: '#/components/responses/ServiceUnavailable' }
 * /api/queues/{name}/dlq/retry:
 *   post:
 *     tags: [Admin]
 *     summary: Move failed jobs back to the queue to run again
 *     security: [{ AdminApiKey: [] }]
 *     parameters:
 *       - $ref: '#/components/parameters/QueueName'
 *     responses:
 *       '200':
 *         description: Jobs retried
 *         content:
 *           application/json:
 *             schema: { $ref: '#/components/schemas/DlqRetryResponse' }
 *       '400': { $ref: '#/components/responses/BadRequest' }
 *       '401': { $ref: '#/components/responses/Unauthorized' }
 *       '503': { $ref: '#/components/responses/ServiceUnavailable' }
 */
export const pendingQueueRoutes = [
  'GET /api/queues/{name}/dlq',
  'POST /api/queues/{name}/dlq/retry',
] as const;
