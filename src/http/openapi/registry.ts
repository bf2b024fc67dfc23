import { z } from 'zod';

/**
 * The zod schemas that validate request and response bodies become the OpenAPI `components.schemas`,
 * so there is one source of truth for every shape. A schema registered here may be referenced from
 * route documentation as `$ref: '#/components/schemas/<Name>'`; a registered schema used inside
 * another registered schema becomes a `$ref` too instead of a copy.
 */

export type JsonSchema = Record<string, unknown>;

export interface SchemaRegistry {
  /**
   * Adds named schemas; a name may be registered once, a schema under one name only. Response bodies
   * are documented as sent (`io: 'output'`, the default: after transforms, defaults present); request
   * bodies and query strings as accepted (`io: 'input'`: optional where a default fills them in).
   */
  registerSchemas(schemas: Record<string, z.ZodType>, options?: { io?: 'input' | 'output' }): void;
  /** JSON Schema 2020-12 (the dialect of OpenAPI 3.1) of every registered schema, by name. */
  componentSchemas(): Record<string, JsonSchema>;
}

const COMPONENT_NAME = /^[A-Za-z0-9._-]+$/;

export function createSchemaRegistry(): SchemaRegistry {
  const registries = { input: z.registry<{ id: string }>(), output: z.registry<{ id: string }>() };
  const names = new Set<string>();

  function convert(io: 'input' | 'output', out: Record<string, JsonSchema>): void {
    const { schemas } = z.toJSONSchema(registries[io], {
      target: 'draft-2020-12',
      io,
      // A transform or Date has no JSON Schema; document it as "any value" instead of failing.
      unrepresentable: 'any',
      uri: (id) => `#/components/schemas/${id}`,
    });
    for (const [name, schema] of Object.entries(schemas)) {
      // OpenAPI components carry no $schema/$id of their own: the document fixes the dialect.
      const { $schema: _dialect, $id: _id, ...rest } = schema as JsonSchema;
      out[name] = rest;
    }
  }

  return {
    registerSchemas(schemas, options = {}) {
      const registry = registries[options.io ?? 'output'];
      for (const [name, schema] of Object.entries(schemas)) {
        if (!COMPONENT_NAME.test(name)) throw new Error(`invalid OpenAPI component name "${name}"`);
        if (names.has(name)) throw new Error(`OpenAPI schema "${name}" is registered twice`);
        if (registry.has(schema))
          throw new Error(`schema "${name}" is already registered under another name`);
        names.add(name);
        registry.add(schema, { id: name });
      }
    },
    componentSchemas() {
      const out: Record<string, JsonSchema> = {};
      convert('input', out);
      convert('output', out);
      return out;
    },
  };
}
