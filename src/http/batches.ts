import { Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors';
import type { ProcessBatch } from '../commands/processBatch';
import type { GetBatch } from '../queries/getBatch';
import type { ListBatches } from '../queries/listBatches';

export const ProcessBatchResponse = z.object({
  batchId: z.string(),
  jobsEnqueued: z.number().int().nonnegative(),
  message: z.string(),
});

export const BatchStatusResponse = z.object({
  batchId: z.string(),
  fileName: z.string(),
  totalEvents: z.number().int().nonnegative(),
  processedEvents: z.number().int().nonnegative(),
  status: z.enum(['uploaded', 'processing', 'completed', 'failed']),
  uploadedAt: z.string().describe('ISO 8601, UTC'),
  processedAt: z.string().nullable(),
  failedReason: z.string().nullable(),
  progress: z.number().int().min(0).max(100).describe('whole percent of events processed'),
});

export const ListBatchesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).optional(),
  cursor: z.string().optional().describe('nextCursor of the previous page'),
});

export const BatchListResponse = z.object({
  batches: z.array(BatchStatusResponse),
  nextCursor: z.string().nullable(),
});

export interface BatchesRouterDeps {
  processBatch: ProcessBatch;
  listBatches: ListBatches;
  getBatch: GetBatch;
}

export function batchesRouter(deps: BatchesRouterDeps): Router {
  const router = Router();

  router.post('/api/batches/:id/process', async (req, res) => {
    const result = await deps.processBatch(req.params.id, req.correlationId);
    const body: z.infer<typeof ProcessBatchResponse> = {
      batchId: result.batchId,
      jobsEnqueued: result.jobsEnqueued,
      message:
        result.jobsEnqueued > 0
          ? `Processing started: ${result.jobsEnqueued} job(s) enqueued`
          : result.alreadyQueued > 0
            ? 'Processing is already under way; nothing new to enqueue'
            : 'Nothing left to process',
    };
    res.status(result.jobsEnqueued > 0 ? 202 : 200).json(body);
  });

  router.get('/api/batches', async (req, res) => {
    const query = ListBatchesQuery.safeParse(req.query);
    if (!query.success) {
      throw new ValidationError('Invalid query parameters', z.treeifyError(query.error));
    }
    const body: z.infer<typeof BatchListResponse> = await deps.listBatches(query.data);
    res.json(body);
  });

  router.get('/api/batches/:id', async (req, res) => {
    const body: z.infer<typeof BatchStatusResponse> = await deps.getBatch(req.params.id);
    res.json(body);
  });

  return router;
}
