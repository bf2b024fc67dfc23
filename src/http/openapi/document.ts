import { join } from 'node:path';
import swaggerJsdoc from 'swagger-jsdoc';
import { errorExamples } from './examples';
import type { SchemaRegistry } from './registry';

/**
 * Assembles the OpenAPI 3.1 document: `components.schemas` from the zod registry, paths from the
 * `@openapi` JSDoc blocks just above each route in src/http/*.ts.
 * Reusable error responses below reference the ErrorResponse schema rather than repeat it.
 */

export type OpenApiDocument = Record<string, unknown> & {
  paths?: Record<string, Record<string, unknown>>;
  components?: Record<string, Record<string, unknown>>;
};

type ErrorName = keyof typeof errorExamples;

function errorResponse(
  name: ErrorName,
  description: string,
  headers?: Record<string, unknown>,
  schema = 'ErrorResponse',
) {
  return {
    description,
    ...(headers ? { headers } : {}),
    content: {
      'application/json': {
        schema: { $ref: `#/components/schemas/${schema}` },
        example: errorExamples[name],
      },
    },
  };
}

const retryAfter = { $ref: '#/components/headers/Retry-After' };

const headers = {
  'Retry-After': {
    description: 'Seconds to wait before retrying',
    schema: { type: 'integer', minimum: 0 },
  },
  'X-Correlation-ID': {
    description: 'Id of this request in the service logs (echoed when the client sent a well-formed one)',
    schema: { type: 'string' },
  },
  RateLimit: {
    description: 'Remaining quota of this client (IETF draft-8), e.g. `"uploads"; r=9; t=60`',
    schema: { type: 'string' },
  },
  'RateLimit-Policy': {
    description: 'Quota policy (IETF draft-8), e.g. `"uploads"; q=10; w=60; pk=:…:`',
    schema: { type: 'string' },
  },
};

const responses = {
  BadRequest: errorResponse('BadRequest', 'Invalid request (details name the problem)'),
  Unauthorized: errorResponse('Unauthorized', 'Missing or wrong X-API-Key'),
  Forbidden: errorResponse(
    'Forbidden',
    'Sent by a browser for a page on another site (Origin / Sec-Fetch-Site) whose origin CORS_ORIGINS does not list',
  ),
  NotFound: errorResponse('NotFound', 'No such resource or route'),
  PayloadTooLarge: errorResponse(
    'PayloadTooLarge',
    'File larger than MAX_UPLOAD_BYTES (the message names the limit); the server stops reading at the limit and closes the connection',
  ),
  TooManyRequests: errorResponse(
    'TooManyRequests',
    'Rate limit exceeded; retry after `retryAfter` seconds',
    {
      'Retry-After': retryAfter,
      RateLimit: { $ref: '#/components/headers/RateLimit' },
      'RateLimit-Policy': { $ref: '#/components/headers/RateLimit-Policy' },
    },
    'RateLimitedResponse',
  ),
  ServiceUnavailable: errorResponse(
    'ServiceUnavailable',
    'MongoDB or Redis is unavailable (`ServiceUnavailable`), or the server is at one of its own limits ' +
      '(`ServiceBusy`: MAX_CONCURRENT_UPLOADS uploads at once, or an upload waited UPLOAD_STORE_WAIT_MS ' +
      'for its turn to store); retry after Retry-After seconds',
    { 'Retry-After': retryAfter },
  ),
  InternalError: errorResponse('InternalError', 'Unexpected failure; the body never contains internals'),
};

/** Files whose `@openapi` blocks are read (compiled .js at run time, .ts under ts-jest). */
function documentedFiles(): string[] {
  return [join(__dirname, '..', '*.{ts,js}')];
}

export function buildOpenApiDocument(schemas: SchemaRegistry, options: { version: string }): OpenApiDocument {
  return swaggerJsdoc({
    failOnErrors: true,
    definition: {
      openapi: '3.1.0',
      info: {
        title: 'Event Metrics Service',
        version: options.version,
        description:
          'Upload CSV files of user events, process them in the background and read daily metrics. ' +
          'Every answer carries X-Correlation-ID; errors are `{error, message, details?}`.',
      },
      servers: [{ url: '/' }],
      tags: [
        { name: 'Uploads' },
        { name: 'Batches' },
        { name: 'Metrics' },
        { name: 'Admin', description: 'Requires X-API-Key' },
        { name: 'Operations' },
      ],
      components: {
        schemas: schemas.componentSchemas(),
        securitySchemes: {
          AdminApiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'ADMIN_API_KEY' },
        },
        headers,
        responses,
      },
    },
    apis: documentedFiles(),
  }) as OpenApiDocument;
}
