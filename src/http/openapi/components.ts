import type { ResponseObject } from 'openapi3-ts/oas31';
import type { z } from 'zod';
import { ErrorResponse, RateLimitedResponse } from '../errorMapping';
import { errorExamples } from './examples';

/**
 * What several operations share: the error answers (each with an example copied from a real answer),
 * the headers they carry and the admin key's security scheme.
 */

type ErrorName = keyof typeof errorExamples;

/** Schemas the shared responses show: the generator writes each under its `.meta({ id })`. */
export const sharedSchemas = [ErrorResponse, RateLimitedResponse];

function componentRef(schema: z.ZodType): { $ref: string } {
  const id = schema.meta()?.id;
  if (id === undefined) throw new Error('a schema shown by a shared response needs .meta({ id })');
  return { $ref: `#/components/schemas/${id}` };
}

function errorResponse(
  name: ErrorName,
  description: string,
  headers?: ResponseObject['headers'],
  schema: z.ZodType = ErrorResponse,
): ResponseObject {
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { 'application/json': { schema: componentRef(schema), example: errorExamples[name] } },
  };
}

const retryAfter = { $ref: '#/components/headers/Retry-After' };

export const sharedHeaders = {
  'Retry-After': {
    description: 'Seconds to wait before retrying',
    schema: { type: 'integer', minimum: 0 },
  },
  'X-Correlation-ID': {
    description: 'Id of this request in the service logs (echoed when the client sent a well-formed one)',
    schema: { type: 'string' },
  },
  RateLimit: {
    description:
      'Remaining quota of this client (IETF draft-8), e.g. `"uploads"; r=9; t=60` (or `"events"; r=599900; t=42` for POST /api/events)',
    schema: { type: 'string' },
  },
  'RateLimit-Policy': {
    description:
      'Quota policy (IETF draft-8), e.g. `"uploads"; q=10; w=60; pk=:…:` or `"events"; q=600000; w=60`',
    schema: { type: 'string' },
  },
} as const;

export const rateLimitHeaders = {
  RateLimit: { $ref: '#/components/headers/RateLimit' },
  'RateLimit-Policy': { $ref: '#/components/headers/RateLimit-Policy' },
};

export const sharedResponses = {
  BadRequest: errorResponse('BadRequest', 'Invalid request (details name the problem)'),
  Unauthorized: errorResponse('Unauthorized', 'Missing or wrong X-API-Key'),
  Forbidden: errorResponse(
    'Forbidden',
    'Sent by a browser for a page on another site (Origin / Sec-Fetch-Site) whose origin CORS_ORIGINS does not list',
  ),
  NotFound: errorResponse('NotFound', 'No such resource or route'),
  RequestTimeout: errorResponse(
    'RequestTimeout',
    'The body arrived slower than HTTP_MIN_BODY_BYTES_PER_SECOND over a window of HTTP_BODY_RATE_WINDOW_MS; nothing was stored and the connection is closed',
  ),
  PayloadTooLarge: errorResponse(
    'PayloadTooLarge',
    'File larger than MAX_UPLOAD_BYTES (the message names the limit); the server answers at the limit, reads and discards the rest of the body for a bounded time (so that every client sees this answer), then closes the connection',
  ),
  TooManyRequests: errorResponse(
    'TooManyRequests',
    'Rate limit exceeded: UPLOAD_RATE_LIMIT accepted uploads a minute per client (a refused one gives its count back, and every attempt counts against ten times that), or EVENTS_RATE_LIMIT events a minute per client for POST /api/events (a refused post charges nothing); retry after `retryAfter` seconds',
    { 'Retry-After': retryAfter, ...rateLimitHeaders },
    RateLimitedResponse,
  ),
  ServiceUnavailable: errorResponse(
    'ServiceUnavailable',
    'MongoDB or Redis is unavailable (`ServiceUnavailable`), or the server is at one of its own limits ' +
      '(`ServiceBusy`: an upload waited UPLOAD_SLOT_WAIT_MS for one of the MAX_CONCURRENT_UPLOADS slots for bodies arriving at once, EVENTS_MAX_WAITING posted events waiting to be stored, or an upload waited UPLOAD_SETTLE_WAIT_MS ' +
      'for a stalled retraction of a batch holding some of its events, or SERIES_MAX_COLD uncached series being computed with SERIES_MAX_COLD_WAITING ' +
      'more waiting, or a series month found halfway through being written for seconds); retry after Retry-After seconds',
    { 'Retry-After': retryAfter },
  ),
  InternalError: errorResponse('InternalError', 'Unexpected failure; the body never contains internals'),
} satisfies Record<ErrorName, ResponseObject>;

export type SharedResponseName = keyof typeof sharedResponses;

export const ADMIN_API_KEY_SCHEME = 'AdminApiKey';

export const adminApiKeyScheme = {
  type: 'apiKey',
  in: 'header',
  name: 'X-API-Key',
  description: 'ADMIN_API_KEY',
} as const;
