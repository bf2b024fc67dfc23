/**
 * Metadata is stored as given, so its keys must be safe in MongoDB (no `$` prefix, no `.`) and
 * in JavaScript objects (no prototype keys). Depth is capped below MongoDB's nesting limit.
 */

const MAX_DEPTH = 20;
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function unsafeKeyReason(key: string): string | undefined {
  if (key.startsWith('$')) return 'starts with "$"';
  if (key.includes('.')) return 'contains "."';
  if (key.includes('\u0000')) return 'contains a NUL character';
  if (PROTOTYPE_KEYS.has(key)) return 'is a reserved name';
  return undefined;
}

function check(value: unknown, path: string, depth: number): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (depth > MAX_DEPTH) return `is nested deeper than ${MAX_DEPTH} levels`;
  if (Array.isArray(value)) {
    for (const item of value) {
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
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, message: 'must be a JSON object' };
  }
  const problem = check(value, '', 1);
  if (problem !== undefined) return { ok: false, message: problem };
  return { ok: true, value: value as Record<string, unknown> };
}
