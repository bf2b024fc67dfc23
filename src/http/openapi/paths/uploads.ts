/**
 * Documentation of routes whose routers are being built elsewhere (see ../provisionalSchemas.ts).
 * When src/http/uploads.ts lands, move this block above its route and delete this file.
 */

/**
 * @openapi
 * /api/uploads:
 *   post:
 *     tags: [Uploads]
 *     summary: Upload a CSV file of events
 *     description: >-
 *       Validates the whole file first: a file with any invalid row is refused and nothing is stored.
 *       Rows already stored (same userId, eventType and instant) count as duplicates.
 *       Rate limited per client IP (UPLOAD_RATE_LIMIT per minute).
 *     requestBody:
 *       required: true
 *       content:
 *         multipart/form-data:
 *           schema:
 *             type: object
 *             required: [file]
 *             properties:
 *               file:
 *                 type: string
 *                 format: binary
 *                 description: 'CSV with the header userId,eventType,timestamp,metadata (metadata: JSON, optional)'
 *     responses:
 *       '201':
 *         description: Stored; process it with POST /api/batches/{id}/process
 *         headers:
 *           RateLimit: { $ref: '#/components/headers/RateLimit' }
 *           RateLimit-Policy: { $ref: '#/components/headers/RateLimit-Policy' }
 *         content:
 *           application/json:
 *             schema: { $ref: '#/components/schemas/UploadResponse' }
 *       '400': { $ref: '#/components/responses/BadRequest' }
 *       '413': { $ref: '#/components/responses/PayloadTooLarge' }
 *       '429': { $ref: '#/components/responses/TooManyRequests' }
 *       '503': { $ref: '#/components/responses/ServiceUnavailable' }
 */
export const pendingUploadRoutes = ['POST /api/uploads'] as const;
