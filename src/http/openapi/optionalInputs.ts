import type {
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  ReferenceObject,
  SchemaObject,
} from 'openapi3-ts/oas31';

/**
 * Swagger UI's try-it-out fills every input from its example or default and sends what it filled:
 * an optional input then changes the request (an upload with `timezone=Europe/Berlin` reads
 * zone-less times as Berlin time). So optional parameters and optional form fields keep no
 * `example`, `examples` or `default`; their description says the values instead, and the field
 * starts empty. Required inputs keep their examples: those are what try-it-out should send.
 */

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

function isReference(value: object): value is ReferenceObject {
  return '$ref' in value;
}

function said(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The description with the removed values said in words, unless it says them already. */
function described(
  description: string | undefined,
  values: { example?: unknown; default?: unknown },
): string {
  const notes: string[] = [];
  const text = description ?? '';
  if (values.default !== undefined && !/\bdefault\b/i.test(text))
    notes.push(`Default: ${said(values.default)}.`);
  if (values.example !== undefined && !text.includes(said(values.example)))
    notes.push(`For example: ${said(values.example)}.`);
  if (notes.length === 0) return text;
  return [text === '' || /[.)]$/.test(text) ? text : `${text}.`, ...notes]
    .filter((part) => part !== '')
    .join(' ');
}

function withoutSchemaPrefill(
  schema: SchemaObject | ReferenceObject | undefined,
  description: string | undefined,
) {
  if (schema === undefined || isReference(schema)) return { schema, description };
  const rest: SchemaObject = { ...schema };
  const example: unknown = rest.example ?? (rest.examples as unknown[] | undefined)?.[0];
  const fallback: unknown = rest.default;
  delete rest.example;
  delete rest.examples;
  delete rest.default;
  const text = described(description, { example, default: fallback });
  return {
    schema: rest.description === undefined ? rest : { ...rest, description: text },
    description: text,
  };
}

function optionalParameter(parameter: ParameterObject): ParameterObject {
  const rest: ParameterObject = { ...parameter };
  const example: unknown = rest.example;
  delete rest.example;
  delete rest.examples;
  const inSchema = withoutSchemaPrefill(rest.schema, rest.description);
  return {
    ...rest,
    ...(inSchema.schema === undefined ? {} : { schema: inSchema.schema }),
    description: described(inSchema.description, { example }),
  };
}

/**
 * A form field with no example is filled with its type's placeholder (the text "string"), which is
 * sent; an empty example leaves it empty, and Swagger UI leaves empty fields out of the form.
 */
function emptyField(property: SchemaObject): SchemaObject {
  const stripped = withoutSchemaPrefill(property, property.description).schema as SchemaObject;
  return stripped.type === 'string' ? { ...stripped, example: '' } : stripped;
}

/** An object schema (a form body) whose fields not in `required` start empty. */
function withOptionalFieldsEmpty(schema: SchemaObject | ReferenceObject | undefined) {
  if (schema === undefined || isReference(schema) || schema.properties === undefined) return schema;
  const required = new Set(schema.required ?? []);
  const properties = Object.fromEntries(
    Object.entries(schema.properties).map(([name, property]) => [
      name,
      required.has(name) || isReference(property) ? property : emptyField(property),
    ]),
  );
  return { ...schema, properties };
}

function operationWithoutPrefills(operation: OperationObject): OperationObject {
  const parameters = operation.parameters?.map((parameter) =>
    isReference(parameter) || parameter.required === true ? parameter : optionalParameter(parameter),
  );
  const body = operation.requestBody;
  const requestBody =
    body === undefined || isReference(body)
      ? body
      : {
          ...body,
          content: Object.fromEntries(
            Object.entries(body.content).map(([type, media]) => [
              type,
              /form/.test(type) ? { ...media, schema: withOptionalFieldsEmpty(media.schema) } : media,
            ]),
          ),
        };
  return {
    ...operation,
    ...(parameters === undefined ? {} : { parameters }),
    ...(requestBody === undefined ? {} : { requestBody }),
  };
}

export function withoutOptionalPrefills(document: OpenAPIObject): OpenAPIObject {
  const paths = Object.fromEntries(
    Object.entries(document.paths ?? {}).map(([path, item]) => [
      path,
      Object.fromEntries(
        Object.entries(item).map(([key, value]) => [
          key,
          (METHODS as readonly string[]).includes(key)
            ? operationWithoutPrefills(value as OperationObject)
            : value,
        ]),
      ),
    ]),
  );
  return { ...document, paths };
}
