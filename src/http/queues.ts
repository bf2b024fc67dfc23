import { Router } from 'express';
import { z } from 'zod';
import type { RetryFailedJobs } from '../commands/retryFailedJobs';
import { ValidationError } from '../errors';
import { DEFAULT_DLQ_LIMIT, MAX_DLQ_LIMIT, type ListFailedJobs } from '../queries/listFailedJobs';
import { PROCESSING_QUEUE } from '../chunkJobs';
import { requireAdminApiKey } from './adminAuth';
import { ADMIN_API_KEY_SCHEME } from './openapi/components';
import { EXAMPLE_BATCH_ID } from './openapi/examples';
import { documentedRoute, mount, sharedResponse } from './openapi/routeTable';

export const DlqQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_DLQ_LIMIT)
    .default(DEFAULT_DLQ_LIMIT)
    .meta({ description: 'Most failed jobs to list' }),
});

const queueName = z.string().meta({ example: PROCESSING_QUEUE });

export const DlqResponse = z
  .object({
    queueName,
    failedJobs: z
      .array(
        z.object({
          id: z.string(),
          data: z
            .unknown()
            .meta({ description: "The job's data, e.g. {batchId, chunk, ...} of a chunk job" }),
          error: z.string().meta({ description: 'First line of failedReason' }),
          failedReason: z.string(),
          timestamp: z.number().int().meta({ description: 'When the job last failed, Unix milliseconds' }),
          attemptsMade: z.number().int().nonnegative(),
        }),
      )
      .meta({ description: 'Newest failure first' }),
  })
  .meta({
    id: 'DlqResponse',
    example: {
      queueName: PROCESSING_QUEUE,
      failedJobs: [
        {
          id: `chunk_${EXAMPLE_BATCH_ID}_0`,
          data: {
            batchId: EXAMPLE_BATCH_ID,
            round: 1,
            correlationId: '5b0e7c1a-2f4d-4c3b-9a8e-6d1f0c2b3a4e',
            chunk: 0,
          },
          error: 'chunk 0 holds a malformed raw event',
          failedReason: 'chunk 0 holds a malformed raw event',
          timestamp: 1705312802512,
          attemptsMade: 1,
        },
      ],
    },
  });

export const DlqRetryResponse = z
  .object({
    queueName,
    retried: z.number().int().nonnegative().meta({ description: 'Jobs put back on the queue' }),
  })
  .meta({ id: 'DlqRetryResponse', example: { queueName: PROCESSING_QUEUE, retried: 1 } });

const QueueParams = z.object({
  name: z.enum([PROCESSING_QUEUE]).meta({
    description: 'Queue name; only event-processing has a dead-letter queue (any other answers 400)',
  }),
});
const adminOnly = [{ [ADMIN_API_KEY_SCHEME]: [] }];

export const queueRoutes = {
  listFailedJobs: documentedRoute({
    method: 'get',
    path: '/api/queues/:name/dlq',
    tags: ['Admin'],
    summary: 'Failed jobs (dead-letter queue)',
    description: 'The key is checked first, so a request without it gets 401 whatever else is wrong.',
    security: adminOnly,
    request: { params: QueueParams, query: DlqQuery },
    responses: {
      200: {
        description: 'Failed jobs, newest first',
        content: { 'application/json': { schema: DlqResponse } },
      },
      400: sharedResponse('BadRequest'),
      401: sharedResponse('Unauthorized'),
      503: sharedResponse('ServiceUnavailable'),
    },
  }),
  retryFailedJobs: documentedRoute({
    method: 'post',
    path: '/api/queues/:name/dlq/retry',
    tags: ['Admin'],
    summary: 'Put the failed jobs back to work',
    description:
      'A failed chunk job is retried through POST /api/batches/{id}/process, so its batch turns ' +
      '`processing` again; retried counts the jobs enqueued (0 when the DLQ is empty).',
    security: adminOnly,
    request: { params: QueueParams },
    responses: {
      200: { description: 'Jobs retried', content: { 'application/json': { schema: DlqRetryResponse } } },
      400: sharedResponse('BadRequest'),
      401: sharedResponse('Unauthorized'),
      403: sharedResponse('Forbidden'),
      503: sharedResponse('ServiceUnavailable'),
    },
  }),
};

export interface QueuesRouterDeps {
  apiKey: string;
  listFailedJobs: ListFailedJobs;
  retryFailedJobs: RetryFailedJobs;
}

export function queuesRouter(deps: QueuesRouterDeps): Router {
  const router = Router();
  const auth = requireAdminApiKey(deps.apiKey);

  mount(router, queueRoutes.listFailedJobs, auth, async (req, res) => {
    const query = DlqQuery.safeParse(req.query);
    if (!query.success) throw new ValidationError('Invalid query parameters', z.treeifyError(query.error));
    const body: z.infer<typeof DlqResponse> = await deps.listFailedJobs(req.params.name, query.data.limit);
    res.json(body);
  });

  mount(router, queueRoutes.retryFailedJobs, auth, async (req, res) => {
    const body: z.infer<typeof DlqRetryResponse> = await deps.retryFailedJobs(
      req.params.name,
      req.correlationId,
    );
    res.json(body);
  });

  return router;
}
