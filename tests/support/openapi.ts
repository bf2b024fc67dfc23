import { Ajv2020 } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Express } from 'express';
import { buildOpenApi } from '../../src/compose';
import type { OpenApiDocument } from '../../src/http/openapi/document';

/**
 * Helpers that hold the running app to its OpenAPI document: which routes it registers, and whether a
 * real response matches the schema documented for its operation and status.
 */

const DOC_ID = 'https://event-metrics.test/openapi.json';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: unknown;
}

/** `METHOD /path/{param}` of every route the Express 5 app registers, in OpenAPI path syntax. */
export function registeredRoutes(app: Express): string[] {
  const routes: string[] = [];
  const walk = (stack: Layer[], prefix: string): void => {
    for (const layer of stack) {
      if (layer.route && typeof layer.route.path === 'string') {
        const path = (prefix + layer.route.path).replace(/:([A-Za-z0-9_]+)/g, '{$1}');
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') routes.push(`${method.toUpperCase()} ${path}`);
        }
      } else if (layer.handle.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return routes.sort();
}

/** `METHOD /path` of every operation in the document. */
export function documentedRoutes(doc: OpenApiDocument): string[] {
  const routes: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) if (method in item) routes.push(`${method.toUpperCase()} ${path}`);
  }
  return routes.sort();
}

const pointerPart = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

function resolveLocalRef(doc: OpenApiDocument, value: unknown): { pointer?: string; value: unknown } {
  if (typeof value === 'object' && value !== null && '$ref' in value && typeof value.$ref === 'string') {
    const pointer = value.$ref.replace(/^#/, '');
    let target: unknown = doc;
    for (const part of pointer.split('/').slice(1)) {
      const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
      target =
        typeof target === 'object' && target !== null ? (target as Record<string, unknown>)[key] : undefined;
    }
    return { pointer, value: target };
  }
  return { value };
}

export interface DocumentedResponse {
  method: string;
  /** The documented path template, e.g. `/api/batches/{id}`. */
  path: string;
  status: number;
  body: unknown;
  contentType?: string;
}

/** Validates bodies against the document with JSON Schema 2020-12 (the dialect of OpenAPI 3.1). */
export function createResponseValidator(doc: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(structuredClone(doc), DOC_ID);

  /** Returns the list of problems (empty when the response matches its documentation). */
  function problems(response: DocumentedResponse): string[] {
    const { method, path, status } = response;
    const contentType = response.contentType ?? 'application/json';
    const operation = doc.paths?.[path]?.[method.toLowerCase()] as
      { responses?: Record<string, unknown> } | undefined;
    if (operation === undefined) return [`${method} ${path} is not documented`];
    let pointer = `/paths/${pointerPart(path)}/${method.toLowerCase()}/responses/${status}`;
    const resolved = resolveLocalRef(doc, operation.responses?.[String(status)]);
    if (resolved.value === undefined) return [`${method} ${path} documents no ${status} response`];
    if (resolved.pointer !== undefined) pointer = resolved.pointer;
    const content = (resolved.value as { content?: Record<string, { schema?: unknown }> }).content;
    if (content?.[contentType]?.schema === undefined) {
      return [`${method} ${path} ${status} documents no ${contentType} schema`];
    }
    const validate = ajv.compile({ $ref: `${DOC_ID}#${pointer}/content/${pointerPart(contentType)}/schema` });
    if (validate(response.body)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? 'is invalid'}`);
  }

  /** Problems of a body against a named component schema (for answers like the 404 fallback). */
  function componentProblems(name: string, body: unknown): string[] {
    const validate = ajv.compile({ $ref: `${DOC_ID}#/components/schemas/${pointerPart(name)}` });
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? 'is invalid'}`);
  }

  return { problems, componentProblems };
}

export type ResponseValidator = ReturnType<typeof createResponseValidator>;

let serviceValidator: ResponseValidator | undefined;

/**
 * Fails the test when a real answer does not match what the service's OpenAPI document says of that
 * operation and status. `route` is `METHOD /documented/{path}`.
 */
export function expectDocumented(route: string, reply: { status: number; body: unknown }): void {
  serviceValidator ??= createResponseValidator(buildOpenApi());
  const [method = '', path = ''] = route.split(' ');
  const problems = serviceValidator.problems({ method, path, status: reply.status, body: reply.body });
  expect({ route, status: reply.status, problems }).toEqual({ route, status: reply.status, problems: [] });
}
