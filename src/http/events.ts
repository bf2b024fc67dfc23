import { Router, type ErrorRequestHandler } from 'express';
import { z } from 'zod';
import { isZlibError } from '../commands/uploadBatch/compressed';
import { parseEventsToSpool } from '../commands/uploadBatch/parseEvents';
import type { ParsedUpload } from '../commands/uploadBatch/parseCsv';
import type { ValidEvent } from '../commands/uploadBatch/validateRow';
import { ValidationError } from '../errors';
import type { ServiceMetrics } from '../metrics/serviceMetrics';
import { ErrorResponse } from './errorMapping';
import { rateLimitHeaders } from './openapi/components';
import { documentedRoute, mount, sharedResponse } from './openapi/routeTable';
import { countRejected, sendCreated, uploadCreatedSchema, uploadRejectedSchema } from './uploads';
import type { EventBudget } from './eventBudget';
import type { PostGroups } from './postGroups';
import { bodyOf, bodyTooLarge, decoderOf, EVENTS_PATH, formatOf } from './eventsBody';
import { optionValues, readOptionsOf } from './uploadOptions';
import { uploadOptionParameters } from './openapi/uploadOptions';

/**
 * POST /api/events: the events of a CSV upload sent as JSON by a program, with the same rules,
 * deduplication, size cap and answers. Posts arriving together share one batch (postGroups), which
 * processes itself; the budget is counted in events per client (eventBudget).
 */

const eventSchema = z
  .object({
    userId: z.string(),
    eventType: z.string(),
    timestamp: z.union([z.string(), z.number()]).meta({
      description:
        'ISO 8601 with a zone, or epoch seconds (10 digits) / milliseconds (13 digits) as a number or a string; zone-less only with ?timezone=',
    }),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Event', description: 'One event; the same rules as a CSV row' });

export const eventsExamples = {
  created: {
    batchId: '3f1c2a9e-7b4d-4e8a-9c1f-2d3e4f5a6b7c',
    totalEvents: 2,
    duplicates: 1,
    suppressedEvents: 0,
    message: 'Stored 2 new events from 3 events (1 duplicate); processing started',
    processingStarted: true,
  },
  rejected: {
    error: 'ValidationError',
    message: 'The body has 2 invalid values; nothing was stored',
    problems: [
      {
        field: 'timestamp',
        count: 1,
        rows: [1],
        message:
          '1 timestamp has no zone: name it with the timezone option (Time zone in the web UI), e.g. timezone=Europe/Berlin',
      },
      { field: 'userId', count: 1, rows: [2], message: '1 row: userId must be a string' },
    ],
    details: [
      {
        row: 1,
        field: 'timestamp',
        message:
          'timestamp has no zone: write it with Z or an offset (2024-01-15T10:00:00Z, 2024-01-15T10:00:00+01:00), or name the zone of such values with the upload option timezone (e.g. timezone=Europe/Berlin)',
        value: '2024-01-15 10:00:00',
      },
      { row: 2, field: 'userId', message: 'userId must be a string', value: '42' },
    ],
    errorCount: 2,
  },
  tooLarge: {
    error: 'PayloadTooLarge',
    message:
      'The body is larger than the upload limit of 10 MiB (MAX_UPLOAD_BYTES); send the events in smaller requests',
  },
  unsupported: {
    error: 'UnsupportedMediaType',
    message:
      'POST /api/events reads application/x-ndjson (one event per line) or application/json (an array of events), not text/csv; upload a CSV to POST /api/uploads',
  },
} as const;

export const eventsRoutes = {
  postEvents: documentedRoute({
    method: 'post',
    path: EVENTS_PATH,
    tags: ['Uploads'],
    summary: 'Send events as JSON (ndjson or an array) instead of a CSV file',
    description:
      'Stores the events with the same rules per event as per CSV row (timestamp forms, identifiers, metadata), ' +
      'the same options as query parameters, the same deduplication and MAX_UPLOAD_BYTES as POST /api/uploads, ' +
      'and starts processing them: no process call is needed. Posts arriving together (while a group waits to ' +
      'be stored, or within EVENTS_GROUP_WINDOW_MS) share one batch (named in each answer, listed as ' +
      '"POST /api/events"); each answer counts its own events: an event is new for the first post that ' +
      'stored it and a duplicate for any other. Budget: ' +
      'EVENTS_RATE_LIMIT events per minute per client; a post that would overdraw it is refused whole with 429 ' +
      'and Retry-After. Any invalid event refuses the whole body (and no other post) unless invalidRows=skip; ' +
      "row errors name the event's index (from 0; blank ndjson lines are not counted). " +
      'Keys other than userId, eventType, timestamp and metadata (or the keys `columns` maps) are refused. ' +
      'Mixpanel events `{event, properties: {time, distinct_id, $insert_id, ...}}` and Amplitude events ' +
      '`{user_id, event_type, time, event_properties, insert_id, ...}` are read too: their other properties or keys ' +
      'become metadata, a leading $ dropped ($insert_id is kept as insert_id; the dedupe key stays userId, ' +
      'eventType and instant). Any other Content-Type is a 415. ' +
      'The body is UTF-8, sent as is or with Content-Encoding gzip or deflate (MAX_UPLOAD_BYTES then also bounds ' +
      'what it decompresses to); another charset or encoding is a 415.',
    request: {
      query: z.object(uploadOptionParameters),
      body: {
        required: true,
        content: {
          'application/x-ndjson': {
            schema: z.string().meta({ description: 'One JSON event per line' }),
            example:
              '{"userId":"u1","eventType":"click","timestamp":"2024-01-15T10:00:00Z","metadata":{"page":"/home"}}\n' +
              '{"userId":"u2","eventType":"click","timestamp":1705316400}\n' +
              '{"userId":"u1","eventType":"click","timestamp":1705312800000}\n',
          },
          'application/json': {
            schema: z.array(eventSchema),
            example: [
              {
                userId: 'u1',
                eventType: 'click',
                timestamp: '2024-01-15T10:00:00Z',
                metadata: { page: '/home' },
              },
              { userId: 'u2', eventType: 'click', timestamp: 1705316400 },
              { userId: 'u1', eventType: 'click', timestamp: 1705312800000 },
            ],
          },
        },
      },
    },
    responses: {
      201: {
        description:
          'Stored, and processing started (processingStarted false: POST /api/batches/{id}/process starts it)',
        headers: rateLimitHeaders,
        content: { 'application/json': { schema: uploadCreatedSchema, example: eventsExamples.created } },
      },
      400: {
        description: 'An event or the body is invalid; nothing was stored',
        content: { 'application/json': { schema: uploadRejectedSchema, example: eventsExamples.rejected } },
      },
      403: sharedResponse('Forbidden'),
      413: {
        description:
          'Body larger than MAX_UPLOAD_BYTES; the server answers at the limit, reads and discards the rest of the body for a bounded time, then closes the connection',
        content: { 'application/json': { schema: ErrorResponse, example: eventsExamples.tooLarge } },
      },
      415: {
        description:
          'Content-Type is neither application/x-ndjson nor application/json, its charset is not UTF-8, or Content-Encoding is other than gzip or deflate',
        content: { 'application/json': { schema: ErrorResponse, example: eventsExamples.unsupported } },
      },
      408: sharedResponse('RequestTimeout'),
      429: sharedResponse('TooManyRequests'),
      503: sharedResponse('ServiceUnavailable'),
    },
  }),
};

export interface EventsDeps {
  maxBytes: number;
  /** EVENTS_RATE_LIMIT: each client's events per minute, charged once a post is validated. */
  budget: EventBudget;
  /** Stores each post with those around it, in one batch that processes itself. */
  groups: PostGroups;
  metrics: Pick<ServiceMetrics, 'uploadAccepted' | 'uploadRejected'>;
}

export function eventsRouter(deps: EventsDeps): Router {
  const router = Router();
  mount(router, eventsRoutes.postEvents, async (req, res) => {
    const format = formatOf(req);
    const decoder = decoderOf(req);
    const options = readOptionsOf(optionValues(req));
    if (Number(req.get('Content-Length') ?? 0) > deps.maxBytes) {
      res.setHeader('Connection', 'close');
      throw bodyTooLarge(deps.maxBytes);
    }
    // A post is at most MAX_UPLOAD_BYTES: its events wait in memory, not in a spool file of its own.
    const events: ValidEvent[] = [];
    const collect = {
      write: (event: ValidEvent): Promise<void> => {
        events.push(event);
        return Promise.resolve();
      },
    };
    let parsed: ParsedUpload;
    try {
      parsed = await parseEventsToSpool(bodyOf(req, decoder, deps.maxBytes), collect, format, options);
    } catch (error) {
      // The rest of the body is not read: the connection closes after the answer.
      if (!req.complete) res.setHeader('Connection', 'close');
      if (isZlibError(error)) {
        throw new ValidationError(
          `The body cannot be decompressed as its Content-Encoding says (${error.message}); send it whole`,
        );
      }
      throw error;
    }
    await deps.budget.spend(req, res, parsed.totalRows);
    const result = await deps.groups.submit(events, req.correlationId);
    sendCreated(res, deps.metrics, result, parsed, 'event', result.processingStarted);
  });
  // Counts refused bodies (nothing stored) before the shared error mapping answers.
  const countRejection: ErrorRequestHandler = (error: unknown, _req, _res, next) => {
    countRejected(deps.metrics, error);
    next(error);
  };
  router.use(EVENTS_PATH, countRejection);
  return router;
}
