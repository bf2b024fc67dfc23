import { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import multer from 'multer';
import { z } from 'zod';
import { csvSpoolStorage } from './csvStorage';
import { defaultSpoolDir, removeSpool } from '../commands/uploadBatch/spool';
import type { UploadBatch, UploadBatchResult } from '../commands/uploadBatch/uploadBatch';
import { AppError, InvalidRowsError, RequestAbortedError, ValidationError } from '../errors';
import type { ServiceMetrics } from '../metrics/serviceMetrics';
import { noteForRejectionLog } from './errorMapping';
import { limitInFlight } from './inFlightLimit';
import { PROCESS_OPTION, processOption, processParameter } from './processOption';
import type { Logger } from '../logging';
import { rateLimitHeaders } from './openapi/components';
import { documentedRoute, mount, sharedResponse } from './openapi/routeTable';
import { uploadTooLarge, watchBodySize } from './uploadSizeCap';
import { problemsSchema, rowErrorSchema, skipReportShape } from './openapi/rowProblems';
import { uploadOptionParameters } from './openapi/uploadOptions';
import type { ParsedUpload } from '../commands/uploadBatch/parseCsv';

/** Multipart field that carries the CSV, as in the original contract. */
export const UPLOAD_FIELD = 'file';

export const uploadCreatedSchema = z
  .object({
    batchId: z.uuid(),
    /** Events newly stored by this upload (the original contract's name). */
    totalEvents: z.number().int().nonnegative(),
    duplicates: z.number().int().nonnegative(),
    suppressedEvents: z
      .number()
      .int()
      .nonnegative()
      .meta({
        description:
          'Events of erased users that were dropped, not stored (see POST /api/users/erase): timed at or ' +
          'before the erasure, or any time when it asked for suppress: true. Neither new nor duplicates',
      }),
    message: z.string(),
    ...skipReportShape,
    processingStarted: z
      .boolean()
      .optional()
      .meta({
        description:
          'Present when processing was asked for (process=true, AUTO_PROCESS_UPLOADS, or any POST /api/events): ' +
          'whether it started; when false, POST /api/batches/{id}/process starts it',
      }),
  })
  .meta({
    id: 'UploadResponse',
    example: {
      batchId: '3f1c2a9e-7b4d-4e8a-9c1f-2d3e4f5a6b7c',
      totalEvents: 3,
      duplicates: 1,
      suppressedEvents: 0,
      message: 'Stored 3 new events from 4 rows (1 duplicate)',
    },
  });
export type UploadCreated = z.infer<typeof uploadCreatedSchema>;

export const uploadRejectedSchema = z
  .object({
    error: z.string(),
    message: z.string(),
    problems: problemsSchema.optional(),
    details: z.array(rowErrorSchema).optional().meta({ description: 'The first 100 row errors' }),
    errorCount: z
      .number()
      .int()
      .positive()
      .optional()
      .meta({ description: 'All row errors, listed or not, in the rows checked' }),
    restUnchecked: z.literal(true).optional().meta({
      description:
        'Present when checking stopped after the first 100 row errors: the rows after them were not checked',
    }),
  })
  .meta({
    id: 'UploadRejected',
    // The answer to a file with a bad timestamp on line 3 and no userId on line 4.
    example: {
      error: 'ValidationError',
      message: 'The file has 2 invalid values; nothing was stored',
      problems: [
        {
          field: 'timestamp',
          count: 1,
          rows: [3],
          message:
            '1 timestamp is in none of the forms read (ISO 8601, epoch seconds or milliseconds): declare its form with the timestampFormat option, e.g. timestampFormat=DD.MM.YYYY HH:mm',
        },
        { field: 'userId', count: 1, rows: [4], message: '1 row: userId is required' },
      ],
      details: [
        {
          row: 3,
          field: 'timestamp',
          message:
            'timestamp must be ISO 8601 with a zone (2024-01-15T10:00:00Z), epoch seconds (10 digits) or epoch milliseconds (13 digits); a date-time without a zone needs the upload option timezone (e.g. timezone=Europe/Berlin)',
          value: 'yesterday',
        },
        { row: 4, field: 'userId', message: 'userId is required', value: '' },
      ],
      errorCount: 2,
    },
  });

export const uploadRoutes = {
  uploadCsv: documentedRoute({
    method: 'post',
    path: '/api/uploads',
    tags: ['Uploads'],
    summary: 'Upload a CSV file of events',
    description:
      'Validates the whole file first: a file with any invalid row is refused and nothing is stored, unless ' +
      '`invalidRows=skip` asks to store the valid rows and report the others. A refusal (400) starts with `problems`, ' +
      'one line per kind of problem with its count and first rows, before the row list. The options below are query ' +
      'parameters or form fields sent before the file. Column names are matched case-insensitively, with the aliases ' +
      'of common exports (user_id, distinct_id; event_type, event_name, event; time, event_time; properties, ' +
      'event_properties) or as `columns` maps them; other columns (insert_id too) become metadata strings. ' +
      'Rows already stored (same userId, eventType and instant) count as duplicates. ' +
      'Rate limited per client IP (UPLOAD_RATE_LIMIT per minute). ' +
      'The delimiter is comma, semicolon or tab: the one that splits the header line into userId, eventType and ' +
      'timestamp (`userId;eventType;timestamp`). A file named *.gz or starting with gzip magic bytes is ' +
      'decompressed as it arrives, and MAX_UPLOAD_BYTES applies to the decompressed bytes too. Rows whose cells ' +
      'are all empty (`,,,`) are skipped. A timestamp is ISO 8601 with a zone (`2024-01-15T10:00:00Z`, ' +
      '`2024-01-15 11:00:00+01:00`), epoch seconds (exactly 10 digits, optional fraction: `1705312800`, ' +
      '`1705312800.25`) or epoch milliseconds (exactly 13 digits: `1705312800000`); a date-time without a zone ' +
      '(`2024-01-15 10:00:00`, `2024-01-15T10:00`) only with the `timezone` option, and a wall time that zone ' +
      'skips or repeats (daylight saving time) is a row error, unless `ambiguous` chooses for a repeated one. ' +
      '`timestampFormat` declares another form (e.g. `DD.MM.YYYY HH:mm`). Each row error echoes the value (`value`).',
    request: {
      query: z.object({ ...uploadOptionParameters, [PROCESS_OPTION]: processParameter }),
      body: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: z.object({
              // The same options as form fields; they must come before the file field.
              ...uploadOptionParameters,
              [PROCESS_OPTION]: processParameter.meta({ description: 'The same option as a form field' }),
              [UPLOAD_FIELD]: z.string().meta({
                format: 'binary',
                description:
                  'CSV (or gzip-compressed CSV) with the header userId,eventType,timestamp,metadata (metadata: JSON, optional)',
              }),
            }),
          },
        },
      },
    },
    responses: {
      201: {
        description:
          'Stored; process it with POST /api/batches/{id}/process, unless process=true (or AUTO_PROCESS_UPLOADS) started it',
        headers: rateLimitHeaders,
        content: { 'application/json': { schema: uploadCreatedSchema } },
      },
      400: {
        description: 'The file or the request is invalid; nothing was stored',
        content: { 'application/json': { schema: uploadRejectedSchema } },
      },
      403: sharedResponse('Forbidden'),
      413: sharedResponse('PayloadTooLarge'),
      408: sharedResponse('RequestTimeout'),
      429: sharedResponse('TooManyRequests'),
      503: sharedResponse('ServiceUnavailable'),
    },
  }),
};

export interface UploadsDeps {
  uploadBatch: UploadBatch;
  maxBytes: number;
  /** UPLOAD_RATE_LIMIT per client; runs before the body is read. */
  rateLimiter: RequestHandler;
  /** MAX_CONCURRENT_UPLOADS: upload bodies this process receives at once; taken before the body is read. */
  maxConcurrent: number;
  /** UPLOAD_SLOT_WAIT_MS: how long an upload waits for one of those slots before 503. */
  slotWaitMs: number;
  metrics: UploadMetrics & Pick<ServiceMetrics, 'uploadSlots'>;
  /** Where validated events wait between parsing and storing; the OS temp folder by default. */
  spoolDir?: string;
  /** Whether an upload without the `process` option starts processing (AUTO_PROCESS_UPLOADS). */
  autoProcess: boolean;
  logger: Logger;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The 201 answer's message, for rows of a file or events of a JSON body. */
function createdMessage(newEvents: number, total: number, duplicates: number, unit: 'row' | 'event'): string {
  return newEvents === 0
    ? `No new events in ${plural(total, unit)}: all were already stored`
    : `Stored ${plural(newEvents, 'new event')} from ${plural(total, unit)} (${plural(duplicates, 'duplicate')})`;
}

type UploadMetrics = Pick<ServiceMetrics, 'uploadAccepted' | 'uploadRejected'>;

/** Counts a stored batch and sends its 201 answer (a CSV upload's or a JSON body's). */
export function sendCreated(
  res: Response,
  metrics: UploadMetrics,
  result: UploadBatchResult,
  { totalRows, skipped }: ParsedUpload,
  unit: 'row' | 'event',
  processingStarted?: boolean,
): void {
  const stored = createdMessage(result.newEvents, totalRows, result.duplicates, unit);
  const body: UploadCreated = {
    batchId: result.batchId,
    totalEvents: result.newEvents,
    duplicates: result.duplicates,
    suppressedEvents: result.suppressedEvents,
    message: [
      stored,
      ...(result.suppressedEvents === 0
        ? []
        : [`dropped ${plural(result.suppressedEvents, 'event')} of erased users`]),
      ...(skipped === undefined ? [] : [`skipped ${plural(skipped.skippedRows, `invalid ${unit}`)}`]),
      ...(processingStarted === undefined
        ? []
        : [processingStarted ? 'processing started' : 'processing could not be started']),
    ].join('; '),
    ...skipped,
    ...(processingStarted === undefined ? {} : { processingStarted }),
  };
  metrics.uploadAccepted({ newEvents: result.newEvents, duplicates: result.duplicates });
  res.status(201).json(body);
}

/** Counts a refused file or body (nothing was stored), before the shared error mapping answers. */
export function countRejected(metrics: UploadMetrics, error: unknown): void {
  if (error instanceof InvalidRowsError) metrics.uploadRejected({ invalidRows: error.errorCount });
  else if (error instanceof ValidationError) metrics.uploadRejected();
}

const MAX_FILE_NAME = 1024;

/** Control, format (zero-width, bidi), line and paragraph separator characters. */
const HIDDEN_IN_NAME = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * The name kept with the batch and shown by the API, the web UI and the logs. Characters that do
 * not show or that reorder the text around them are written as `\uXXXX`, as in row errors: a bidi
 * override would show "invoice\u202Evsc.exe" as "invoiceexe.csv", and NUL cannot be stored
 * everywhere.
 */
function storedFileName(name: string): string {
  return Array.from(name.normalize('NFC'))
    .slice(0, MAX_FILE_NAME)
    .join('')
    .replace(
      HIDDEN_IN_NAME,
      (char) => `\\u${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`,
    );
}

export function uploadsRouter(deps: UploadsDeps): Router {
  // How each request in flight is refused once it is over the cap (see watchBodySize).
  const refusals = new WeakMap<Request, () => void>();
  const { storage, spooled, failedHere, fileNameOf, lateOption } = csvSpoolStorage(
    deps.spoolDir ?? defaultSpoolDir(),
    (req) => refusals.get(req)?.(),
    { maxBytes: deps.maxBytes, tooLarge: () => uploadTooLarge(deps.maxBytes, 'once decompressed') },
  );
  const single = multer({
    storage,
    // A filename without a charset (filename="Übersicht.csv") is sent as UTF-8 by browsers, curl
    // and fetch; busboy's default reads it as latin1 and stores "Ãbersicht.csv".
    defParamCharset: 'utf8',
    limits: { fileSize: deps.maxBytes, files: 1, fields: 10, parts: 12, fieldSize: 64 * 1024 },
  }).single(UPLOAD_FIELD);

  // Turns multer's outcomes that are about this endpoint into errors a client can act on.
  const outcome = (req: Request, error: unknown): unknown => {
    if (error === undefined || error === null) return undefined;
    if (error instanceof multer.MulterError && error.code === 'LIMIT_FILE_SIZE') {
      return uploadTooLarge(deps.maxBytes);
    }
    if (!req.complete) return new RequestAbortedError('The upload was aborted before the file arrived');
    if (error instanceof multer.MulterError && error.code === 'LIMIT_UNEXPECTED_FILE') {
      return new ValidationError(
        `Unexpected file field "${error.field ?? ''}": send the CSV in the field "${UPLOAD_FIELD}"`,
      );
    }
    if (error instanceof AppError || error instanceof multer.MulterError || failedHere(req, error))
      return error;
    // Whatever else multer passes on comes from busboy reading a malformed body.
    const reason = error instanceof Error ? `: ${error.message}` : '';
    return new ValidationError(`The multipart body cannot be read${reason}`);
  };

  const receiveCsv: RequestHandler = (req, res, next) => {
    let settled = false;
    const settle = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      refusals.delete(req);
      next(error);
    };
    // The connection closes after this answer; the rest of the body is only read and dropped for a
    // bounded while (http/server), so that the client sees the answer.
    const refuse = (): void => {
      // The body may overrun the cap after the request was already answered (on a busy machine the
      // answer can go out while the rest of the body still arrives): nothing is left to refuse.
      if (settled || res.headersSent) return;
      res.setHeader('Connection', 'close');
      settle(uploadTooLarge(deps.maxBytes));
    };
    if (!watchBodySize(req, deps.maxBytes, refuse)) return;
    refusals.set(req, refuse);
    single(req, res, (error?: unknown) => {
      // An option field after the file came too late for its rows: that, not their errors, is the answer.
      settle(lateOption(req) ?? outcome(req, error));
    });
  };

  const router = Router();
  // Counts refused files (nothing stored) before the shared error mapping answers.
  const countRejection: ErrorRequestHandler = (error: unknown, req, res, next) => {
    const fileName = fileNameOf(req);
    if (fileName !== undefined) noteForRejectionLog(res, { fileName: storedFileName(fileName) });
    countRejected(deps.metrics, error);
    next(error);
  };
  const inFlight = limitInFlight(deps.maxConcurrent, 'uploads', deps.slotWaitMs, (slots) => {
    deps.metrics.uploadSlots(slots);
  });
  mount(router, uploadRoutes.uploadCsv, deps.rateLimiter, inFlight, receiveCsv, async (req, res) => {
    const upload = spooled(req);
    if (req.file === undefined || upload === undefined) {
      throw new ValidationError(
        `No file: send the CSV as multipart/form-data in the field "${UPLOAD_FIELD}"`,
      );
    }
    try {
      const fileName = storedFileName(req.file.originalname);
      const process = processOption(req, deps.autoProcess);
      const result = await deps.uploadBatch({
        spoolPath: upload.spoolPath,
        fileName,
        totalRows: upload.totalRows,
        correlationId: req.correlationId,
        process,
      });
      sendCreated(res, deps.metrics, result, upload, 'row', result.processingStarted);
    } finally {
      await removeSpool(upload.spoolPath);
    }
  });
  router.use('/api/uploads', countRejection);
  return router;
}
