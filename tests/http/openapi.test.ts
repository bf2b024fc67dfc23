import type { AddressInfo } from 'node:net';
import SwaggerParser from '@apidevtools/swagger-parser';
import express from 'express';
import { buildHttpHandlers, buildOpenApi } from '../../src/compose';
import { API_DOCS_UI_ROUTES } from '../../src/http/apiDocs';
import { errorResponder } from '../../src/http/errorMapping';
import { createLogger } from '../../src/logging';
import type { OpenApiDocument } from '../../src/http/openapi/document';
import { DOCUMENTED_ROUTES } from '../../src/http/openapi/routes';
import { createResponseValidator, documentedRoutes, registeredRoutes } from '../support/openapi';
import { startTestService, type TestService } from '../support/testService';

const UNDOCUMENTED_BY_DESIGN = API_DOCS_UI_ROUTES.map(
  (path) => `GET ${path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`,
);

describe('OpenAPI document', () => {
  let service: TestService;
  let served: OpenApiDocument;

  beforeAll(async () => {
    service = await startTestService({ workers: false });
    served = (await (await fetch(`${service.baseUrl}/openapi.json`)).json()) as OpenApiDocument;
  });

  afterAll(async () => {
    await service.stop();
  });

  it('is a valid OpenAPI 3.1 document whose every $ref resolves', async () => {
    expect(served.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(served) as never)).resolves.toBeDefined();
  });

  it('takes its component schemas from the zod schemas, with $refs between registered ones', () => {
    const schemas = served.components?.schemas as Record<string, Record<string, unknown>>;
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(['ErrorResponse', 'HealthResponse']));
    expect(schemas.ErrorResponse).toMatchObject({ required: ['error', 'message'], type: 'object' });
    expect(schemas.BatchListResponse).toMatchObject({
      properties: { batches: { items: { $ref: '#/components/schemas/BatchStatusResponse' } } },
    });
    // Query parameters as accepted: a limit with a default is optional and says the default in words
    // (as a schema default, Swagger UI's try-it-out would fill it in and send it).
    const listBatches = served.paths?.['/api/batches']?.get as {
      parameters: { name: string; in: string; required: boolean; schema: unknown; description: string }[];
    };
    const limit = listBatches.parameters.find((p) => p.name === 'limit');
    expect(limit).toMatchObject({
      in: 'query',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 100 },
      description: 'Batches per page. Default: 20.',
    });
    expect(limit?.schema).not.toHaveProperty('default');
    expect(served.components?.securitySchemes).toEqual({
      AdminApiKey: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-API-Key' }) as unknown,
    });
  });

  it('documents exactly the routes the app registers', () => {
    const { app } = buildHttpHandlers(service.runtime);
    const registered = registeredRoutes(app).filter((r) => !UNDOCUMENTED_BY_DESIGN.includes(r));
    expect(registered).toEqual(
      expect.arrayContaining([
        'GET /health',
        'GET /metrics',
        'GET /openapi.json',
        'POST /api/uploads',
        'POST /api/batches/{id}/process',
        'GET /api/queues/{name}/dlq',
      ]),
    );
    expect(documentedRoutes(served)).toEqual(registered);
  });

  it('answers match their documented schemas', async () => {
    const validator = createResponseValidator(served);
    const health = await fetch(`${service.baseUrl}/health`);
    const healthBody: unknown = await health.json();
    expect(
      validator.problems({ method: 'get', path: '/health', status: health.status, body: healthBody }),
    ).toEqual([]);

    const missing = await fetch(`${service.baseUrl}/no/such/route`);
    expect(missing.status).toBe(404);
    expect(validator.componentProblems('ErrorResponse', await missing.json())).toEqual([]);

    // The validator can fail: a wrong shape is reported.
    expect(
      validator.problems({ method: 'get', path: '/health', status: 200, body: { status: 'fine' } }).length,
    ).toBeGreaterThan(0);
    expect(validator.componentProblems('ErrorResponse', { error: 'x' })).not.toEqual([]);
  });

  it('shows the 500 answer that an unexpected error gets', async () => {
    const app = express();
    app.get('/boom', () => {
      throw new Error('cannot read property "counts" of undefined at /srv/app/dist/projections.js:12');
    });
    app.use(errorResponder(createLogger({ level: 'error', role: 'test', silent: true })));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/boom`);
    const shown = (
      served.components?.responses?.InternalError as { content: Record<string, { example: unknown }> }
    ).content['application/json']?.example;
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 500, body: shown });
    await new Promise((resolve) => server.close(resolve));
  });

  it('says that the metrics date defaults to today (UTC)', async () => {
    const parameters = served.paths?.['/api/metrics']?.get as {
      parameters: { name: string; description?: string }[];
    };
    const date = parameters.parameters.find((p) => p.name === 'date');
    expect(date?.description).toMatch(/defaults to today \(UTC\)/);
    const today = new Date().toISOString().slice(0, 10);
    const answered = (await (await fetch(`${service.baseUrl}/api/metrics`)).json()) as { date: string };
    // Around midnight UTC the answer may belong to the day before the test read the clock.
    expect([today, new Date(Date.now() - 60_000).toISOString().slice(0, 10)]).toContain(answered.date);
  });

  it('builds the same document in-process as it serves', () => {
    expect(buildOpenApi()).toEqual(served);
  });
});

describe('route table', () => {
  it('documents each route once, at the path its router mounts', () => {
    const keys = DOCUMENTED_ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys).toContain('get /api/batches/:id');
  });
});
