/**
 * Typed errors that cross the boundary to clients. src/http/errorMapping.ts turns each one into a
 * status code and a `{error, message, details?}` body; anything else is a 500 with no internals shown.
 */
export abstract class AppError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  readonly code = 'ValidationError';
}

/** One kind of problem in an upload's rows: how many, the first rows, and one line saying it. */
export interface RowProblem {
  field: string;
  count: number;
  rows: number[];
  message: string;
}

/**
 * An upload with bad rows: the first rows' errors as details, plus how many there were in all, or
 * in the rows checked when checking stopped early (`restUnchecked`), and their summary per kind.
 */
export class InvalidRowsError extends ValidationError {
  constructor(
    message: string,
    readonly rowErrors: { row: number; field: string; message: string }[],
    readonly errorCount: number,
    readonly restUnchecked = false,
    readonly problems: RowProblem[] = [],
  ) {
    super(message, rowErrors);
  }
}

/** The request body arrived slower than HTTP_MIN_BODY_BYTES_PER_SECOND. */
export class RequestTooSlowError extends AppError {
  readonly code = 'RequestTimeout';
}

/** The client went away before its request body arrived in full. */
export class RequestAbortedError extends AppError {
  readonly code = 'RequestAborted';
}

export class NotFoundError extends AppError {
  readonly code = 'NotFound';
}

export class UnauthorizedError extends AppError {
  readonly code = 'Unauthorized';
}

/** The request is understood but not allowed from where it came (see http/crossSiteGuard). */
export class ForbiddenError extends AppError {
  readonly code = 'Forbidden';
}

/** The body is in a format the route does not read (its Content-Type). */
export class UnsupportedMediaTypeError extends AppError {
  readonly code = 'UnsupportedMediaType';
}

export class PayloadTooLargeError extends AppError {
  readonly code = 'PayloadTooLarge';
}

export class RateLimitedError extends AppError {
  readonly code = 'TooManyRequests';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** The server is at a limit it sets itself (uploads in flight, waiting for its turn); retry later. */
export class ServiceBusyError extends AppError {
  readonly code = 'ServiceBusy';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** A dependency (MongoDB, Redis) did not answer; the client may retry later. */
export class DependencyUnavailableError extends AppError {
  readonly code = 'ServiceUnavailable';
  constructor(
    readonly dependency: 'mongo' | 'redis',
    message = `${dependency} is unavailable`,
  ) {
    super(message);
  }
}

/** The batch was retracted: nothing of it is processed again (POST /api/batches/:id/process). */
export class BatchRetractedError extends AppError {
  readonly code = 'BatchRetracted';
}
