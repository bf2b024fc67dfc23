import { unstorableTextReason } from './storableText';

/**
 * Metadata is stored as given, so its keys must be safe in MongoDB (no `$` prefix, no `.`) and
 * in JavaScript objects (no prototype keys). Depth is capped below MongoDB's nesting limit.
 * Nested arrays and NUL characters are refused because FerretDB cannot store them: both would
 * otherwise fail the insert half-way through an upload.
 */

const MAX_DEPTH = 20;
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function unsafeKeyReason(key: string): string | undefined {
  if (key.startsWith('$')) return 'starts with "$"';
  if (key.includes('.')) return 'contains "."';
  if (PROTOTYPE_KEYS.has(key)) return 'is a reserved name';
  return unstorableTextReason(key);
}

function check(value: unknown, path: string, depth: number): string | undefined {
  if (typeof value === 'string') {
    const reason = unstorableTextReason(value);
    return reason === undefined ? undefined : `value at "${path.slice(0, -1)}" ${reason}`;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > MAX_DEPTH) return `is nested deeper than ${MAX_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (Array.isArray(item)) return `value at "${path.slice(0, -1)}" holds an array inside an array`;
      const problem = check(item, path, depth + 1);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  for (const [key, inner] of Object.entries(value)) {
    const reason = unsafeKeyReason(key);
    if (reason !== undefined) return `key "${path}${key}" ${reason}`;
    const problem = check(inner, `${path}${key}/`, depth + 1);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Parses the metadata cell: empty means `{}`; otherwise a JSON object with safe keys. */
export function parseMetadata(
  text: string,
): { ok: true; value: Record<string, unknown> } | { ok: false; message: string } {
  if (text.trim() === '') return { ok: true, value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, message: 'is not valid JSON' };
  }
  const problem = metadataProblem(value);
  if (problem !== undefined) return { ok: false, message: problem };
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * Why a parsed value cannot be metadata, or undefined. Looks no deeper than MAX_DEPTH, so a value
 * nested any deeper is answered without walking (or serialising) all of it.
 */
export function metadataProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'must be a JSON object';
  return check(value, '', 1);
}
