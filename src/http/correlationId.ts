import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { runWithCorrelationId } from '../logging';

export const CORRELATION_HEADER = 'X-Correlation-ID';

// Accept a caller's id only when it is short and plain, so it is safe to log and echo.
const WELL_FORMED = /^[A-Za-z0-9._:-]{8,128}$/;

declare module 'express-serve-static-core' {
  interface Request {
    correlationId: string;
  }
}

/** The caller's X-Correlation-ID when well-formed, else a new one. */
export function correlationIdFor(given: string | undefined): string {
  return given !== undefined && WELL_FORMED.test(given) ? given : randomUUID();
}

/** Takes a well-formed X-Correlation-ID or makes one, echoes it, and scopes the request's logs to it. */
export const correlationId: RequestHandler = (req, res, next) => {
  const id = correlationIdFor(req.get(CORRELATION_HEADER));
  req.correlationId = id;
  res.setHeader(CORRELATION_HEADER, id);
  runWithCorrelationId(id, next);
};
