import type { Request } from 'express';
import { z } from 'zod';
import { echoed } from '../commands/uploadBatch/validateRow';
import { ValidationError } from '../errors';

/**
 * The upload option `process`: start processing the batch as soon as it is stored, instead of
 * waiting for POST /api/batches/{id}/process. A query parameter or a form field (anywhere in the
 * form: it is read once the whole file has been stored); without it, AUTO_PROCESS_UPLOADS decides.
 */

export const PROCESS_OPTION = 'process';

const VALUES: Record<string, boolean> = { true: true, false: false, '1': true, '0': false };

export const processParameter = z
  .enum(['true', 'false'])
  .optional()
  .meta({
    description:
      'true: processing starts as soon as the file is stored (the answer says whether it did); ' +
      'false: wait for POST /api/batches/{id}/process. Without it, the setting AUTO_PROCESS_UPLOADS decides',
    example: 'true',
  });

function given(value: unknown): string[] {
  const values: unknown[] = Array.isArray(value) ? value : [value];
  // A nested query value (?process[a]=1) is not a value of this option.
  return values.filter((v) => v !== undefined).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
}

/** The request's `process` option, or `fallback` when it has none. */
export function processOption(req: Request, fallback: boolean): boolean {
  const body = req.body as Record<string, unknown> | undefined;
  // Empty counts as not given, as for the other upload options (Swagger UI sends an unset field empty).
  const values = [...given(req.query[PROCESS_OPTION]), ...given(body?.[PROCESS_OPTION])].filter(
    (v) => v.trim() !== '',
  );
  const distinct = [...new Set(values.map((v) => v.trim().toLowerCase()))];
  if (distinct.length === 0) return fallback;
  const first = distinct[0] ?? '';
  const value = VALUES[first];
  if (distinct.length > 1 || value === undefined) {
    throw new ValidationError(
      `The ${PROCESS_OPTION} option is true or false, given once, not ${values.map((v) => `"${echoed(v)}"`).join(' and ')}`,
    );
  }
  return value;
}
