import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import multer from 'multer';
import { z } from 'zod';
import {
  AppError,
  BatchRetractedError,
  DependencyUnavailableError,
  ForbiddenError,
  InvalidRowsError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  RequestAbortedError,
  RequestTooSlowError,
  ServiceBusyError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../errors';
import type { Logger } from '../logging';
import { isMongoUnavailable } from '../mongo';
import { isRedisUnavailable } from '../redis';

/** The one place where errors become HTTP responses: `{error, message, details?}`. */

/** The body of every 4xx/5xx answer (documented as the `ErrorResponse` OpenAPI component). */
export const ErrorResponse = z
  .object({
    // No example here: each response carries a real one (openapi/examples), and a property example
    // would make Swagger UI show "ValidationError" under every status that lacks one.
    error: z.string().meta({
      description:
        'Stable machine-readable code: ValidationError, RequestAborted, Unauthorized, Forbidden, NotFound, RequestTimeout, BatchRetracted, PayloadTooLarge, UnsupportedMediaType, TooManyRequests, ServiceUnavailable, InternalError',
    }),
    message: z.string().meta({ description: 'Human-readable explanation, safe to show' }),
    details: z.unknown().optional().meta({ description: 'Structured context, e.g. the invalid fields' }),
  })
  .meta({ id: 'ErrorResponse', description: 'Error answer: no stack traces or internal messages' });

/** 429 adds how many seconds to wait (also sent as the Retry-After header). */
export const RateLimitedResponse = ErrorResponse.extend({
  retryAfter: z.number().int().nonnegative().meta({ description: 'Seconds until a retry may succeed' }),
}).meta({ id: 'RateLimitedResponse' });

interface ErrorBody {
  error: string;
  message: string;
  details?: unknown;
  [extra: string]: unknown;
}

interface Mapped {
  status: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

export const RETRY_AFTER_UNAVAILABLE_SECONDS = 5;

function mapError(error: unknown): Mapped {
  if (error instanceof AppError) {
    const body: ErrorBody = { error: error.code, message: error.message };
    // The summary per kind comes before the row list: one line can say what a hundred rows repeat.
    if (error instanceof InvalidRowsError && error.problems.length > 0) body.problems = error.problems;
    if (error.details !== undefined) body.details = error.details;
    if (error instanceof InvalidRowsError) {
      body.errorCount = error.errorCount;
      if (error.restUnchecked) body.restUnchecked = true;
    }
    if (error instanceof ValidationError) return { status: 400, body };
    // Nobody reads this answer; it is a 4xx so the log does not report a server fault.
    if (error instanceof RequestAbortedError) return { status: 400, body };
    if (error instanceof UnauthorizedError) return { status: 401, body };
    if (error instanceof ForbiddenError) return { status: 403, body };
    if (error instanceof NotFoundError) return { status: 404, body };
    if (error instanceof RequestTooSlowError) return { status: 408, body };
    if (error instanceof BatchRetractedError) return { status: 409, body };
    if (error instanceof PayloadTooLargeError) return { status: 413, body };
    if (error instanceof UnsupportedMediaTypeError) return { status: 415, body };
    if (error instanceof RateLimitedError) {
      return {
        status: 429,
        body: { ...body, retryAfter: error.retryAfterSeconds },
        headers: { 'Retry-After': String(error.retryAfterSeconds) },
      };
    }
    if (error instanceof ServiceBusyError) {
      return { status: 503, body, headers: { 'Retry-After': String(error.retryAfterSeconds) } };
    }
    if (error instanceof DependencyUnavailableError) {
      return { status: 503, body, headers: { 'Retry-After': String(RETRY_AFTER_UNAVAILABLE_SECONDS) } };
    }
  }
  if (error instanceof multer.MulterError) {
    if (error.code === 'LIMIT_FILE_SIZE') {
      return {
        status: 413,
        body: { error: 'PayloadTooLarge', message: 'The file is larger than the upload limit' },
      };
    }
    return {
      status: 400,
      body: { error: 'ValidationError', message: `Bad multipart request: ${error.message}` },
    };
  }
  if (isMongoUnavailable(error)) return mapError(new DependencyUnavailableError('mongo'));
  if (isRedisUnavailable(error)) return mapError(new DependencyUnavailableError('redis'));
  if (isClientHttpError(error)) {
    if (error.status === 413) {
      return { status: 413, body: { error: 'PayloadTooLarge', message: 'The request body is too large' } };
    }
    // body-parser names the body's problem in `type`; the router's URIError is a bad path.
    const message =
      'type' in error
        ? 'The request body is not valid'
        : error instanceof URIError
          ? 'The request path is not valid: it has a malformed %-escape'
          : 'The request is not valid';
    return { status: 400, body: { error: 'ValidationError', message } };
  }
  return { status: 500, body: { error: 'InternalError', message: 'Something went wrong on our side' } };
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

/** A 4xx that Express or body-parser attached to an error about the request itself. */
function isClientHttpError(error: unknown): error is { status: number } {
  return (
    typeof error === 'object' &&
    error !== null &&
    'status' in error &&
    typeof error.status === 'number' &&
    error.status >= 400 &&
    error.status < 500
  );
}

/** What a route knows about a request that its rejection's log line should name (an upload's file name). */
const logContext = new WeakMap<Response, Record<string, unknown>>();

export function noteForRejectionLog(res: Response, fields: Record<string, unknown>): void {
  logContext.set(res, { ...logContext.get(res), ...fields });
}

export function errorResponder(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    if (req.readableAborted && errorCode(error) === 'ECONNRESET') {
      // The client went away while sending (Node's 'aborted'): nobody is left to answer, and
      // nothing failed on our side.
      logger.info('request abandoned by the client', { method: req.method, path: req.path });
      res.destroy();
      return;
    }
    const mapped = mapError(error);
    if (error instanceof ServiceBusyError) {
      // Load, not a fault: the client was told to retry, and nothing is down.
      logger.warn('service busy', {
        reason: error.message,
        retryAfter: error.retryAfterSeconds,
        method: req.method,
        path: req.path,
      });
    } else if (mapped.status === 503) {
      // Expected while a dependency is down; the health check and metrics tell the rest.
      logger.warn('dependency unavailable', { err: error, method: req.method, path: req.path });
    } else if (mapped.status >= 500) {
      logger.error('request failed', {
        err: error,
        method: req.method,
        path: req.path,
        status: mapped.status,
      });
    } else {
      // Why, in the words the client got: enough to answer "why was my upload refused?" from the log.
      const rowErrors = error instanceof InvalidRowsError ? { errorCount: error.errorCount } : {};
      logger.info('request rejected', {
        method: req.method,
        path: req.path,
        status: mapped.status,
        code: mapped.body.error,
        reason: mapped.body.message,
        ...rowErrors,
        ...logContext.get(res),
      });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [name, value] of Object.entries(mapped.headers ?? {})) res.setHeader(name, value);
    res.status(mapped.status).json(mapped.body);
  };
}

/** Answers `error` outside Express's routing (a limit the HTTP server itself enforces, http/server). */
export function answerError(res: ServerResponse, error: unknown): void {
  const mapped = mapError(error);
  for (const [name, value] of Object.entries(mapped.headers ?? {})) res.setHeader(name, value);
  res.statusCode = mapped.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(mapped.body));
}

export const notFoundResponder: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`No route for ${req.method} ${req.path}`));
};
