import type { OpenApiDocument } from '../../src/http/openapi/document';

/**
 * The example Swagger UI shows for each documented response: the media type's own `example`, else
 * the `example` of the schema it refers to. A JSON response with neither gets `undefined`: Swagger
 * UI would make one up from the schema.
 */

export interface DocumentedExample {
  /** `METHOD /path status`, e.g. `POST /api/uploads 413`. */
  key: string;
  contentType: string;
  example: unknown;
}

type Node = Record<string, unknown>;

function resolve(doc: OpenApiDocument, value: unknown): Node | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const node = value as Node;
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  let target: unknown = doc;
  for (const part of ref.replace(/^#\//, '').split('/')) {
    target = typeof target === 'object' && target !== null ? (target as Node)[part] : undefined;
  }
  return resolve(doc, target);
}

export function documentedExamples(doc: OpenApiDocument): DocumentedExample[] {
  const found: DocumentedExample[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      const responses = resolve(doc, (operation as Node).responses) ?? {};
      for (const [status, response] of Object.entries(responses)) {
        const content = resolve(doc, resolve(doc, response)?.content) ?? {};
        for (const [contentType, media] of Object.entries(content)) {
          const mediaNode = resolve(doc, media) ?? {};
          const example =
            'example' in mediaNode ? mediaNode.example : resolve(doc, mediaNode.schema)?.example;
          found.push({ key: `${method.toUpperCase()} ${path} ${status}`, contentType, example });
        }
      }
    }
  }
  return found.sort((a, b) => a.key.localeCompare(b.key));
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/**
 * A real answer with what differs from run to run (ids, clock times, seconds to wait) taken from
 * the example, so the rest can be compared exactly. Only fields the example has are replaced.
 */
export function withExampleVolatiles(real: unknown, example: unknown): unknown {
  const exampleIds = [...new Set(JSON.stringify(example).match(UUID) ?? [])];
  let text = JSON.stringify(real);
  const realIds = [...new Set(text.match(UUID) ?? [])];
  realIds.forEach((id, i) => {
    const replacement = exampleIds[Math.min(i, exampleIds.length - 1)];
    if (replacement !== undefined) text = text.replaceAll(id, replacement);
  });
  return overwrite(JSON.parse(text) as unknown, example);
}

const VOLATILE = new Set([
  'uploadedAt',
  'processedAt',
  'timestamp',
  'retryAfter',
  'retractedAt',
  'requestedAt',
]);

function overwrite(real: unknown, example: unknown): unknown {
  if (Array.isArray(real) && Array.isArray(example)) {
    return real.map((item, i) => overwrite(item, example[Math.min(i, example.length - 1)]));
  }
  if (typeof real !== 'object' || real === null || typeof example !== 'object' || example === null)
    return real;
  const out: Node = { ...(real as Node) };
  const model = example as Node;
  for (const [key, value] of Object.entries(out)) {
    if (VOLATILE.has(key) && key in model && typeof model[key] === typeof value && value !== null) {
      out[key] = model[key];
    } else {
      out[key] = overwrite(value, model[key]);
    }
  }
  return out;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch']);

interface Operation {
  key: string;
  method: string;
  path: string;
  node: Node;
}

function operations(doc: OpenApiDocument): Operation[] {
  return Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.has(method))
      .map(([method, node]) => ({
        key: `${method.toUpperCase()} ${path}`,
        method,
        path,
        node: node as Node,
      })),
  );
}

function parametersOf(doc: OpenApiDocument, operation: Node): Node[] {
  const list = Array.isArray(operation.parameters) ? (operation.parameters as unknown[]) : [];
  return list.map((p) => resolve(doc, p) ?? {});
}

/** What Swagger UI fills an input with (an example, else a default), `undefined` when it starts empty. */
function prefill(doc: OpenApiDocument, input: Node): unknown {
  const schema = resolve(doc, input.schema) ?? {};
  const examples = resolve(doc, input.examples);
  const named = examples ? resolve(doc, Object.values(examples)[0])?.value : undefined;
  const listed = Array.isArray(schema.examples) ? (schema.examples as unknown[])[0] : undefined;
  return input.example ?? named ?? schema.example ?? listed ?? schema.default;
}

/**
 * Optional inputs that Swagger UI's try-it-out would fill, and so send: parameters, and fields of
 * form bodies (which it fills with their type's placeholder unless the example is empty).
 */
export function prefilledOptionalInputs(doc: OpenApiDocument): string[] {
  const found: string[] = [];
  for (const { key, node } of operations(doc)) {
    for (const parameter of parametersOf(doc, node)) {
      const value = prefill(doc, parameter);
      if (parameter.required !== true && value !== undefined)
        found.push(`${key} ${String(parameter.in)} ${String(parameter.name)} = ${JSON.stringify(value)}`);
    }
    const content = resolve(doc, resolve(doc, node.requestBody)?.content) ?? {};
    for (const [type, media] of Object.entries(content)) {
      if (!/form/.test(type)) continue;
      const schema = resolve(doc, resolve(doc, media)?.schema) ?? {};
      const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
      for (const [name, property] of Object.entries(resolve(doc, schema.properties) ?? {})) {
        const field = resolve(doc, property) ?? {};
        if (required.has(name) || field.format === 'binary') continue;
        const value: unknown = field.example ?? field.default;
        if (value !== '')
          found.push(
            `${key} ${type} field ${name} = ${value === undefined ? 'placeholder' : JSON.stringify(value)}`,
          );
      }
    }
  }
  return found.sort();
}

export interface ExampleRequest {
  /** `METHOD /path`, with the media type of the body when it has one. */
  key: string;
  method: string;
  /** Path and query, as Swagger UI builds them from what it fills. */
  url: string;
  contentType?: string;
  body?: string;
  /** The operation needs X-API-Key (which a person enters under Authorize). */
  admin: boolean;
}

/**
 * Every request try-it-out sends when a person presses Execute and changes nothing: each parameter
 * it fills (a required enum with no example gets its first value), and each body example as Swagger UI writes it (JSON
 * media types pretty-printed; a string example verbatim). Operations whose body has no example
 * (the file upload) need a person's input and are left out.
 */
export function exampleRequests(doc: OpenApiDocument): ExampleRequest[] {
  const found: ExampleRequest[] = [];
  for (const { key, method, path, node } of operations(doc)) {
    let url = path;
    const query = new URLSearchParams();
    for (const parameter of parametersOf(doc, node)) {
      const schema = resolve(doc, parameter.schema) ?? {};
      const chosen = Array.isArray(schema.enum) ? (schema.enum as unknown[])[0] : undefined;
      const value = prefill(doc, parameter) ?? (parameter.required === true ? chosen : undefined);
      if (value === undefined) continue;
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      if (parameter.in === 'path') url = url.replace(`{${String(parameter.name)}}`, encodeURIComponent(text));
      if (parameter.in === 'query') query.append(String(parameter.name), text);
    }
    if (query.size > 0) url += `?${query.toString()}`;
    const admin = Array.isArray(node.security) && node.security.length > 0;
    const body = resolve(doc, node.requestBody);
    if (body === undefined) {
      found.push({ key, method: method.toUpperCase(), url, admin });
      continue;
    }
    for (const [contentType, media] of Object.entries(resolve(doc, body.content) ?? {})) {
      const example = prefill(doc, resolve(doc, media) ?? {});
      if (example === undefined) continue;
      found.push({
        key: `${key} ${contentType}`,
        method: method.toUpperCase(),
        url,
        contentType,
        body: typeof example === 'string' ? example : JSON.stringify(example, null, 2),
        admin,
      });
    }
  }
  return found.sort((a, b) => a.key.localeCompare(b.key));
}
