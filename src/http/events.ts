import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import { z } from 'zod';
import { isZlibError } from '../commands/uploadBatch/compressed';
import { parseEventsToSpool } from '../commands/uploadBatch/parseEvents';
import type { ParsedUpload } from '../commands/uploadBatch/parseCsv';
import { newSpoolPath, removeSpool, SpoolWriter } from '../commands/uploadBatch/spool';
import type { UploadBatch } from '../commands/uploadBatch/uploadBatch';
import { ValidationError } from '../errors';
import type { ServiceMetrics } from '../metrics/serviceMetrics';
import { ErrorResponse } from './errorMapping';
import { rateLimitHeaders } from './openapi/components';
import { documentedRoute, mount, sharedResponse } from './openapi/routeTable';
import { countRejected, sendCreated, uploadCreatedSchema, uploadRejectedSchema } from './uploads';
import { bodyOf, bodyTooLarge, decoderOf, EVENTS_PATH, formatOf } from './eventsBody';
import { optionValues, readOptionsOf } from './uploadOptions';
import { uploadOptionParameters } from './openapi/uploadOptions';

/**
 * POST /api/events: the events of a CSV upload sent as JSON by a program, through the same
 * UploadBatch command, with the same rules, deduplication, size cap, rate limit and answers.
 */

/** The name kept with a batch sent here (batches list it where an upload shows its file name). */
export const EVENTS_BATCH_NAME = 'POST /api/events';

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
    message: 'Stored 2 new events from 3 events (1 duplicate)',
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
      'Creates a batch exactly as POST /api/uploads does, through the same command: the same rules per event ' +
      'as per CSV row (timestamp forms, identifiers, metadata), the same options as query parameters, the same ' +
      'deduplication, MAX_UPLOAD_BYTES, the same UPLOAD_RATE_LIMIT budget and the same 201 answer. Any invalid event ' +
      'refuses the whole body unless invalidRows=skip; ' +
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
        description: 'Stored; process it with POST /api/batches/{id}/process',
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
  uploadBatch: UploadBatch;
  maxBytes: number;
  /** The uploads' rate limiter: both routes spend the same UPLOAD_RATE_LIMIT budget. */
  rateLimiter: RequestHandler;
  /** The uploads' in-flight limit (MAX_CONCURRENT_UPLOADS), shared too. */
  inFlight: RequestHandler;
  metrics: Pick<ServiceMetrics, 'uploadAccepted' | 'uploadRejected'>;
  spoolDir: string;
}

export function eventsRouter(deps: EventsDeps): Router {
  const router = Router();
  mount(router, eventsRoutes.postEvents, deps.rateLimiter, deps.inFlight, async (req, res) => {
    const format = formatOf(req);
    const decoder = decoderOf(req);
    const options = readOptionsOf(optionValues(req));
    if (Number(req.get('Content-Length') ?? 0) > deps.maxBytes) {
      res.setHeader('Connection', 'close');
      throw bodyTooLarge(deps.maxBytes);
    }
    const spoolPath = newSpoolPath(deps.spoolDir);
    const spool = new SpoolWriter(spoolPath);
    try {
      let parsed: ParsedUpload;
      try {
        parsed = await parseEventsToSpool(bodyOf(req, decoder, deps.maxBytes), spool, format, options);
        await spool.close();
      } catch (error) {
        // The rest of the body is not read: the connection closes after the answer.
        if (!req.complete) res.setHeader('Connection', 'close');
        await spool.discard().catch(() => undefined);
        if (isZlibError(error)) {
          throw new ValidationError(
            `The body cannot be decompressed as its Content-Encoding says (${error.message}); send it whole`,
          );
        }
        throw error;
      }
      const result = await deps.uploadBatch({
        spoolPath,
        fileName: EVENTS_BATCH_NAME,
        totalRows: parsed.totalRows,
        correlationId: req.correlationId,
      });
      sendCreated(res, deps.metrics, result, parsed, 'event');
    } finally {
      await removeSpool(spoolPath);
    }
  });
  // Counts refused bodies (nothing stored) before the shared error mapping answers.
  const countRejection: ErrorRequestHandler = (error: unknown, _req, _res, next) => {
    countRejected(deps.metrics, error);
    next(error);
  };
  router.use(EVENTS_PATH, countRejection);
  return router;
}
