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

const VOLATILE = new Set(['uploadedAt', 'processedAt', 'timestamp', 'retryAfter']);

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
