import { setTimeout as sleep } from 'node:timers/promises';
import { Router } from 'express';
import { z } from 'zod';
import type { EraseUser } from '../commands/eraseUser/eraseUser';
import type { ErasureView } from '../commands/eraseUser/erasures';
import { normaliseIdentifier } from '../commands/uploadBatch/identifierText';
import { codePoints, MAX_ID_LENGTH } from '../commands/uploadBatch/validateRow';
import { NotFoundError, ValidationError } from '../errors';
import { requireAdminApiKey } from './adminAuth';
import { ADMIN_API_KEY_SCHEME } from './openapi/components';
import { documentedRoute, mount, sharedResponse } from './openapi/routeTable';

/**
 * Erasing a user (admin). The request waits for the erasure up to ANSWER_WAIT_MS and answers 200
 * with its summary, or 202 with its progress and where to follow it; it goes on either way, and a
 * stopped one is finished by the erasure sweep. The userId is never logged (the request logger
 * writes no bodies, and a refused userId is not echoed in the error).
 */

const ANSWER_WAIT_MS = 10_000;
const EXAMPLE_ERASURE_ID = '8d7c6b5a-4e3f-4a2b-9c1d-0e1f2a3b4c5d';

export const EraseUserBody = z
  .object({
    userId: z
      .string()
      .meta({ description: 'The userId as uploaded (trimmed and NFC-normalised as uploads are)' }),
    suppress: z.boolean().optional().meta({
      description:
        'true: also drop every later event of this user, whatever its time. Default: events timed after the erasure are accepted again',
    }),
  })
  .meta({ id: 'EraseUserRequest', example: { userId: 'user-42' } });

const summarySchema = z.object({
  eventsRemoved: z.number().int().nonnegative(),
  batches: z.number().int().nonnegative().meta({ description: 'Batches that held events of the user' }),
  days: z.array(z.string()).meta({ description: 'UTC dates whose counts changed' }),
  eventTypes: z
    .array(z.string())
    .meta({ description: 'Event types whose counts changed (the first 1,000 in code-unit order)' }),
  eventTypesNotListed: z
    .number()
    .int()
    .positive()
    .optional()
    .meta({ description: 'How many more event types changed than are listed; absent when all are' }),
});

export const ErasureResponse = z
  .object({
    erasureId: z.uuid(),
    status: z.enum(['erasing', 'done']),
    suppress: z.boolean(),
    requestedAt: z.string(),
    progress: z.object({
      batchesFound: z.number().int().nonnegative(),
      batchesDone: z.number().int().nonnegative(),
      eventsRemoved: z.number().int().nonnegative(),
    }),
    summary: summarySchema.optional().meta({ description: 'Once done' }),
  })
  .meta({
    id: 'ErasureResponse',
    example: {
      erasureId: EXAMPLE_ERASURE_ID,
      status: 'done',
      suppress: false,
      requestedAt: '2024-02-01T09:30:00.000Z',
      progress: { batchesFound: 1, batchesDone: 1, eventsRemoved: 1 },
      summary: { eventsRemoved: 1, batches: 1, days: ['2024-01-15'], eventTypes: ['click'] },
    },
  });

const adminOnly = [{ [ADMIN_API_KEY_SCHEME]: [] }];
const ErasureParams = z.object({
  id: z.string().meta({ description: 'The erasureId', example: EXAMPLE_ERASURE_ID }),
});

export const userRoutes = {
  eraseUser: documentedRoute({
    method: 'post',
    path: '/api/users/erase',
    tags: ['Admin'],
    summary: 'Erase a user',
    description:
      'Removes every stored event of the user (raw events, the user in chunk documents and, through the ' +
      'UserErased records, in the read models) and suppresses re-uploads of them: events timed at or before ' +
      'the erasure are dropped from later uploads (all of them with suppress: true). Waits up to 10 s: 200 when ' +
      'done, else 202 with Location to follow. A second request while one runs for the user answers that one.',
    security: adminOnly,
    request: { body: { content: { 'application/json': { schema: EraseUserBody } } } },
    responses: {
      200: { description: 'Erased', content: { 'application/json': { schema: ErasureResponse } } },
      202: {
        description: 'Still erasing; follow the Location',
        headers: { Location: { schema: { type: 'string' }, description: '/api/users/erasures/{id}' } },
        content: { 'application/json': { schema: ErasureResponse } },
      },
      400: sharedResponse('BadRequest'),
      401: sharedResponse('Unauthorized'),
      503: sharedResponse('ServiceUnavailable'),
    },
  }),
  getErasure: documentedRoute({
    method: 'get',
    path: '/api/users/erasures/:id',
    tags: ['Admin'],
    summary: 'An erasure: status, progress, summary',
    security: adminOnly,
    request: { params: ErasureParams },
    responses: {
      200: { description: 'The erasure', content: { 'application/json': { schema: ErasureResponse } } },
      401: sharedResponse('Unauthorized'),
      404: sharedResponse('NotFound'),
    },
  }),
};

export interface UsersRouterDeps {
  apiKey: string;
  eraseUser: EraseUser;
  readErasure: (erasureId: string) => Promise<ErasureView | undefined>;
}

function userIdOf(body: unknown): { userId: string; suppress: boolean } {
  const parsed = EraseUserBody.safeParse(body);
  // The issues name the fields only: a refused userId is not echoed (it may be an email address).
  const fields = parsed.error?.issues.map((issue) => issue.path.join('.'));
  if (!parsed.success) throw new ValidationError('Invalid body: send {userId, suppress?}', { fields });
  const userId = normaliseIdentifier(parsed.data.userId);
  if (userId === '') throw new ValidationError('userId is required', { fields: ['userId'] });
  if (codePoints(userId) > MAX_ID_LENGTH)
    throw new ValidationError(`userId is longer than ${MAX_ID_LENGTH} characters`, {
      fields: ['userId'],
    });
  return { userId, suppress: parsed.data.suppress === true };
}

export function usersRouter(deps: UsersRouterDeps): Router {
  const router = Router();
  const auth = requireAdminApiKey(deps.apiKey);

  mount(router, userRoutes.eraseUser, auth, async (req, res) => {
    const { userId, suppress } = userIdOf(req.body);
    const { erasureId, done } = await deps.eraseUser.start({
      userId,
      suppress,
      correlationId: req.correlationId,
    });
    // A failure is left to the sweep: the answer is 202 with the erasure's progress.
    const timer = new AbortController();
    const finished = await Promise.race([
      done.then(() => true).catch(() => false),
      sleep(ANSWER_WAIT_MS, false, { signal: timer.signal }).catch(() => false),
    ]);
    // The wait is cut short, so no timer outlives the answer.
    timer.abort();
    const view = await deps.readErasure(erasureId);
    if (view === undefined) throw new Error(`erasure ${erasureId} vanished`);
    if (finished && view.status === 'done') {
      res.status(200).json(view);
      return;
    }
    res.status(202).location(`/api/users/erasures/${erasureId}`).json(view);
  });

  mount(router, userRoutes.getErasure, auth, async (req, res) => {
    const view = await deps.readErasure(req.params.id);
    if (view === undefined) throw new NotFoundError(`No erasure ${req.params.id}`);
    res.json(view);
  });

  return router;
}
