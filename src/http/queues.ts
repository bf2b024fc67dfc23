import { Router } from 'express';
import { z } from 'zod';
import type { RetryFailedJobs } from '../commands/retryFailedJobs';
import { ValidationError } from '../errors';
import type { ListFailedJobs } from '../queries/listFailedJobs';
import { requireApiKey } from './apiKey';

export const DlqQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const DlqResponse = z.object({
  queueName: z.string(),
  failedJobs: z.array(
    z.object({
      id: z.string(),
      data: z.unknown(),
      error: z.string(),
      failedReason: z.string(),
      timestamp: z.number().int(),
      attemptsMade: z.number().int().nonnegative(),
    }),
  ),
});

export const DlqRetryResponse = z.object({
  queueName: z.string(),
  retried: z.number().int().nonnegative(),
});

function queueParam(params: Record<string, string | string[] | undefined>): string {
  const name = params['name'];
  return typeof name === 'string' ? name : '';
}

export interface QueuesRouterDeps {
  apiKey: string;
  listFailedJobs: ListFailedJobs;
  retryFailedJobs: RetryFailedJobs;
}

export function queuesRouter(deps: QueuesRouterDeps): Router {
  const router = Router();
  const auth = requireApiKey(deps.apiKey);

  router.get('/api/queues/:name/dlq', auth, async (req, res) => {
    const query = DlqQuery.safeParse(req.query);
    if (!query.success) throw new ValidationError('Invalid query parameters', z.treeifyError(query.error));
    const body: z.infer<typeof DlqResponse> = await deps.listFailedJobs(
      queueParam(req.params),
      query.data.limit,
    );
    res.json(body);
  });

  router.post('/api/queues/:name/dlq/retry', auth, async (req, res) => {
    const body: z.infer<typeof DlqRetryResponse> = await deps.retryFailedJobs(
      queueParam(req.params),
      req.correlationId,
    );
    res.json(body);
  });

  return router;
}
