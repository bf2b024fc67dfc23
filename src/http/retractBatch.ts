import { Router } from 'express';
import { z } from 'zod';
import type { RetractBatch } from '../commands/retractBatch';
import { ValidationError } from '../errors';
import { requireAdminApiKey } from './adminAuth';
import { ADMIN_API_KEY_SCHEME } from './openapi/components';
import { EXAMPLE_BATCH_ID } from './openapi/examples';
import { documentedRoute, mount, sharedResponse } from './openapi/routeTable';

/** POST /api/batches/:id/retract: taking a wrong upload back out (admin). */

export const RetractBatchBody = z
  .object({
    reason: z.string().max(2000).optional().meta({
      description:
        'Why the batch is taken back, e.g. "Uploaded with the wrong timezone"; kept in the log and shown with the batch',
    }),
  })
  .meta({ id: 'RetractBatchBody' });

export const RetractBatchResponse = z
  .object({
    batchId: z.string(),
    status: z.literal('retracted'),
    reason: z.string(),
    retractedAt: z.iso.datetime().meta({ description: 'When BatchRetracted was recorded (UTC)' }),
    eventsWithdrawn: z.number().int().nonnegative().meta({ description: 'Events the batch had stored' }),
    countedEventsWithdrawn: z.number().int().nonnegative().meta({
      description: 'Events its processing had counted before the retraction: what the metrics lose',
    }),
    days: z.array(z.iso.date()).meta({ description: 'UTC days whose counts change, sorted' }),
    eventTypes: z.array(z.string()).meta({ description: 'Event types whose counts change, sorted' }),
    alreadyRetracted: z.boolean().meta({
      description: 'True when the batch was retracted before: this call changed nothing',
    }),
  })
  .meta({
    id: 'RetractBatchResponse',
    example: {
      batchId: EXAMPLE_BATCH_ID,
      status: 'retracted',
      reason: 'Uploaded with the wrong timezone',
      retractedAt: '2024-01-15T11:00:00.000Z',
      eventsWithdrawn: 2,
      countedEventsWithdrawn: 2,
      days: ['2024-01-15'],
      eventTypes: ['click', 'purchase'],
      alreadyRetracted: false,
    },
  });

const RetractParams = z.object({
  id: z.string().meta({ description: 'batchId returned by POST /api/uploads', example: EXAMPLE_BATCH_ID }),
});

export const retractRoutes = {
  retractBatch: documentedRoute({
    method: 'post',
    path: '/api/batches/:id/retract',
    tags: ['Admin'],
    summary: 'Retract a batch: its events count nowhere from now on',
    description:
      'Appends BatchRetracted to the log and deletes what the batch stored (raw events, chunk ' +
      'documents, queued and failed jobs); the metrics withdraw its counts. The batch stays listed ' +
      'as retracted and is never processed again. Its events no longer block a later upload: upload ' +
      'the corrected file as a new batch. Idempotent: a second call answers the same facts with ' +
      'alreadyRetracted true.',
    security: [{ [ADMIN_API_KEY_SCHEME]: [] }],
    request: {
      params: RetractParams,
      body: { content: { 'application/json': { schema: RetractBatchBody } }, required: false },
    },
    responses: {
      200: {
        description: 'Retracted (now or before)',
        content: { 'application/json': { schema: RetractBatchResponse } },
      },
      400: sharedResponse('BadRequest'),
      401: sharedResponse('Unauthorized'),
      403: sharedResponse('Forbidden'),
      404: sharedResponse('NotFound'),
      503: sharedResponse('ServiceUnavailable'),
    },
  }),
};

export function retractRouter(deps: { apiKey: string; retractBatch: RetractBatch }): Router {
  const router = Router();
  mount(router, retractRoutes.retractBatch, requireAdminApiKey(deps.apiKey), async (req, res) => {
    const body = RetractBatchBody.safeParse((req.body as unknown) ?? {});
    if (!body.success) throw new ValidationError('Invalid request body', z.treeifyError(body.error));
    const answer: z.infer<typeof RetractBatchResponse> = await deps.retractBatch({
      batchId: req.params.id,
      reason: body.data.reason ?? '',
      correlationId: req.correlationId,
    });
    res.json(answer);
  });
  return router;
}
