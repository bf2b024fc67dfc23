import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import {
  adminApiKeyScheme,
  ADMIN_API_KEY_SCHEME,
  sharedHeaders,
  sharedResponses,
  sharedSchemas,
} from './components';
import { withoutOptionalPrefills } from './optionalInputs';
import { openApiPath } from './routeTable';
import { DOCUMENTED_ROUTES } from './routes';

/**
 * The OpenAPI 3.1 document, generated (by @asteasolutions/zod-to-openapi) from the route table and
 * the zod schemas the routes validate with and answer by. A schema with a `.meta({ id })` becomes a
 * `components.schemas` entry that every use references.
 */

export type OpenApiDocument = Record<string, unknown> & {
  paths?: Record<string, Record<string, unknown>>;
  components?: Record<string, Record<string, unknown>>;
};

export function buildOpenApiDocument(options: { version: string }): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', ADMIN_API_KEY_SCHEME, adminApiKeyScheme);
  for (const [name, header] of Object.entries(sharedHeaders))
    registry.registerComponent('headers', name, header);
  for (const [name, response] of Object.entries(sharedResponses)) {
    registry.registerComponent('responses', name, response);
  }
  for (const route of DOCUMENTED_ROUTES) registry.registerPath({ ...route, path: openApiPath(route.path) });

  const document = new OpenApiGeneratorV31([
    ...registry.definitions,
    // As definitions: a bare zod 4 schema has a `type` property, which the generator takes for one.
    ...sharedSchemas.map((schema) => ({ type: 'schema' as const, schema })),
  ]).generateDocument({
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
  });
  // The generator adds an empty section the document does not use.
  const { webhooks: _webhooks, ...rest } = withoutOptionalPrefills(document);
  return rest as OpenApiDocument;
}
