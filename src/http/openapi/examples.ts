/**
 * The bodies Swagger UI shows for the shared error answers, copied from real answers of the service
 * with its default settings (tests/http/openapiExamples.test.ts provokes each one and compares).
 * Without them Swagger UI makes examples up from the schema: `"error": "ValidationError"` under
 * every status, and integers at Number.MIN_SAFE_INTEGER.
 */

export const EXAMPLE_BATCH_ID = '3f1c2a9e-7b4d-4e8a-9c1f-2d3e4f5a6b7c';

export const errorExamples = {
  BadRequest: {
    error: 'ValidationError',
    message: 'date must be a calendar date written as YYYY-MM-DD (UTC)',
    details: { errors: [], properties: { date: { errors: ['Invalid ISO date'] } } },
  },
  Unauthorized: { error: 'Unauthorized', message: 'The X-API-Key header is required' },
  Forbidden: {
    error: 'Forbidden',
    message:
      'Refused: a page on https://elsewhere.example (another site) may not send POST requests to this service. ' +
      'To allow a site you trust, add its origin to CORS_ORIGINS.',
  },
  NotFound: { error: 'NotFound', message: `Batch ${EXAMPLE_BATCH_ID} not found` },
  RequestTimeout: {
    error: 'RequestTimeout',
    message:
      'The request body arrived at 3 bytes/s, below the minimum of 1024 bytes/s (HTTP_MIN_BODY_BYTES_PER_SECOND); send it again over a faster link',
  },
  PayloadTooLarge: {
    error: 'PayloadTooLarge',
    message:
      'The file is larger than the upload limit of 10 MiB (MAX_UPLOAD_BYTES); split it into smaller files and upload them one at a time',
  },
  TooManyRequests: {
    error: 'TooManyRequests',
    message: 'Too many uploads: at most 10 per minute per client. Retry in 42 s.',
    retryAfter: 42,
  },
  ServiceUnavailable: { error: 'ServiceUnavailable', message: 'redis is unavailable' },
  InternalError: { error: 'InternalError', message: 'Something went wrong on our side' },
} as const;
