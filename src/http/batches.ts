import { Router } from 'express';
import { z } from 'zod';
import { ValidationError } from '../errors';
import type { ProcessBatch } from '../commands/processBatch';
import type { GetBatch } from '../queries/getBatch';
import { BATCH_CURSOR, DEFAULT_BATCH_PAGE, MAX_BATCH_PAGE, type ListBatches } from '../queries/listBatches';
import { EXAMPLE_BATCH_ID } from './openapi/examples';
import { documentedRoute, mount, sharedResponse } from './openapi/routeTable';

const batchId = z
  .string()
  .meta({ description: 'Id returned by POST /api/uploads', example: EXAMPLE_BATCH_ID });

export const ProcessBatchResponse = z
  .object({
    batchId,
    jobsEnqueued: z.number().int().nonnegative().meta({
      description:
        'Chunk jobs this call added, or put back from the dead-letter queue; jobs that already existed (e.g. added by a concurrent call) are not counted',
    }),
    message: z.string(),
  })
  .meta({
    id: 'ProcessBatchResponse',
    example: { batchId: EXAMPLE_BATCH_ID, jobsEnqueued: 1, message: 'Processing started: 1 job(s) enqueued' },
  });

/** The example batch: the 4-row file of the upload example (3 new events), processed. */
const BATCH_STATUS_EXAMPLE = {
  batchId: EXAMPLE_BATCH_ID,
  fileName: 'events.csv',
  totalEvents: 3,
  processedEvents: 3,
  status: 'completed',
  uploadedAt: '2024-01-15T10:00:00.000Z',
  processedAt: '2024-01-15T10:00:02.512Z',
  failedReason: null,
  progress: 100,
  firstDay: '2024-01-15',
  lastDay: '2024-01-15',
  retracted: false,
  retractedAt: null,
  retractionReason: null,
};

export const BatchStatusResponse = z
  .object({
    batchId,
    fileName: z.string(),
    totalEvents: z.number().int().nonnegative().meta({ description: 'New events the upload stored' }),
    processedEvents: z.number().int().nonnegative(),
    status: z.enum(['uploaded', 'processing', 'completed', 'failed', 'retracted']).meta({
      description:
        'completed once every event is counted and every read model holds the counts, so the metrics ' +
        'include the batch; until then processing (see catchingUp). A batch with no new events ' +
        '(totalEvents 0) is completed as soon as it is uploaded. retracted once taken back (POST ' +
        '/api/batches/{id}/retract), for good',
    }),
    uploadedAt: z.iso.datetime().meta({ description: 'ISO 8601, UTC' }),
    processedAt: z.iso
      .datetime()
      .nullable()
      .meta({ description: 'When the batch completed; null until then' }),
    failedReason: z.string().nullable().meta({
      description:
        'Why the batch failed, in words safe to show: which chunk failed and where an operator finds the error itself (the admin dead-letter queue); null unless failed',
    }),
    progress: z.number().int().min(0).max(100).meta({ description: 'Whole percent of events processed' }),
    firstDay: z.iso
      .date()
      .nullable()
      .meta({ description: 'First UTC day (YYYY-MM-DD) of the events processed so far; null before any is' }),
    lastDay: z.iso
      .date()
      .nullable()
      .meta({ description: 'Last UTC day (YYYY-MM-DD) of the events processed so far; null before any is' }),
    retracted: z.boolean().meta({
      description:
        'Taken back with POST /api/batches/{id}/retract: its events count nowhere (status retracted)',
    }),
    retractedAt: z.iso
      .datetime()
      .nullable()
      .meta({ description: 'When it was retracted; null unless retracted' }),
    retractionReason: z
      .string()
      .nullable()
      .meta({ description: 'The reason given when it was retracted; null unless retracted' }),
    catchingUp: z
      .array(z.enum(['dailyMetrics', 'metricSeries']))
      .optional()
      .meta({
        description:
          'Present while every event is counted but these read models do not hold all of the counts yet ' +
          '(GET /api/metrics reads dailyMetrics, the series and time-zone reads metricSeries); the batch ' +
          'reads processing until they do',
      }),
  })
  .meta({ id: 'BatchStatusResponse', example: BATCH_STATUS_EXAMPLE });

export const ListBatchesQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_BATCH_PAGE)
    .default(DEFAULT_BATCH_PAGE)
    .meta({ description: 'Batches per page' }),
  cursor: z
    .string()
    .regex(BATCH_CURSOR)
    .optional()
    .meta({ description: 'nextCursor of the previous page', example: '42' }),
});

export const BatchListResponse = z
  .object({
    batches: z.array(BatchStatusResponse).meta({ description: 'Newest upload first' }),
    nextCursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `cursor` for the next (older) page; null on the last page' }),
  })
  .meta({ id: 'BatchListResponse', example: { batches: [BATCH_STATUS_EXAMPLE], nextCursor: null } });

/** The path parameter of every batch route. */
const BatchIdParams = z.object({
  id: z.string().meta({
    description: 'batchId returned by POST /api/uploads; an id no upload returned answers 404',
    example: EXAMPLE_BATCH_ID,
  }),
});

export const batchRoutes = {
  processBatch: documentedRoute({
    method: 'post',
    path: '/api/batches/:id/process',
    tags: ['Batches'],
    summary: 'Enqueue background processing of a batch',
    description:
      'Idempotent: chunks already processed, waiting or running are not enqueued again, so a ' +
      'repeated call answers 200 with jobsEnqueued 0. Chunks whose job failed are enqueued again (202). ' +
      'Concurrent calls for one batch run one after the other, so their jobsEnqueued add up to the ' +
      'jobs really enqueued; a call that waited 30 s for another one answers 503.',
    request: { params: BatchIdParams },
    responses: {
      202: {
        description: 'Jobs enqueued; follow progress with GET /api/batches/{id}',
        content: { 'application/json': { schema: ProcessBatchResponse } },
      },
      200: {
        description: 'Nothing new to enqueue (processed already, or under way); jobsEnqueued is 0',
        content: {
          'application/json': {
            schema: ProcessBatchResponse,
            example: { batchId: EXAMPLE_BATCH_ID, jobsEnqueued: 0, message: 'Nothing left to process' },
          },
        },
      },
      403: sharedResponse('Forbidden'),
      404: sharedResponse('NotFound'),
      409: {
        description: 'The batch was retracted (POST /api/batches/{id}/retract); it is never processed again',
        content: {
          'application/json': {
            schema: { $ref: '#/components/schemas/ErrorResponse' },
            example: {
              error: 'BatchRetracted',
              message: `Batch ${EXAMPLE_BATCH_ID} was retracted and is not processed again; upload the corrected file as a new batch`,
            },
          },
        },
      },
      503: sharedResponse('ServiceUnavailable'),
    },
  }),
  listBatches: documentedRoute({
    method: 'get',
    path: '/api/batches',
    tags: ['Batches'],
    summary: 'List batches, newest first, a page at a time',
    request: { query: ListBatchesQuery },
    responses: {
      200: {
        description: 'One page of batches',
        content: { 'application/json': { schema: BatchListResponse } },
      },
      400: sharedResponse('BadRequest'),
      503: sharedResponse('ServiceUnavailable'),
    },
  }),
  getBatch: documentedRoute({
    method: 'get',
    path: '/api/batches/:id',
    tags: ['Batches'],
    summary: 'Status and progress of one batch',
    request: { params: BatchIdParams },
    responses: {
      200: {
        description: 'The batch',
        content: { 'application/json': { schema: BatchStatusResponse } },
      },
      404: sharedResponse('NotFound'),
      503: sharedResponse('ServiceUnavailable'),
    },
  }),
};

export interface BatchesRouterDeps {
  processBatch: ProcessBatch;
  listBatches: ListBatches;
  getBatch: GetBatch;
}

export function batchesRouter(deps: BatchesRouterDeps): Router {
  const router = Router();

  mount(router, batchRoutes.processBatch, async (req, res) => {
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

  mount(router, batchRoutes.listBatches, async (req, res) => {
    const query = ListBatchesQuery.safeParse(req.query);
    if (!query.success) {
      throw new ValidationError('Invalid query parameters', z.treeifyError(query.error));
    }
    const body: z.infer<typeof BatchListResponse> = await deps.listBatches(query.data);
    res.json(body);
  });

  mount(router, batchRoutes.getBatch, async (req, res) => {
    const body: z.infer<typeof BatchStatusResponse> = await deps.getBatch(req.params.id);
    res.json(body);
  });

  return router;
}
