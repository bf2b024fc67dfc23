import type { Request } from 'express';
import { COLUMNS_OPTION, parseColumnMapping } from '../commands/uploadBatch/columnNames';
import { AMBIGUOUS_OPTION, TimeZone, TIMEZONE_OPTION } from '../commands/uploadBatch/parseTimestamp';
import type { ReadOptions } from '../commands/uploadBatch/readOptions';
import {
  TIMESTAMP_FORMAT_OPTION,
  TIMESTAMP_FORMATS_TEXT,
  timestampFormatNamed,
} from '../commands/uploadBatch/timestampFormat';
import { echoed } from '../commands/uploadBatch/validateRow';
import { ValidationError } from '../errors';

/**
 * The upload options, each a query parameter or (on POST /api/uploads) a form field sent before
 * the file: the file is read as it arrives, so a field after it comes too late (the route refuses
 * that). POST /api/events takes them as query parameters.
 */

export const INVALID_ROWS_OPTION = 'invalidRows';

export const UPLOAD_OPTIONS = [
  TIMEZONE_OPTION,
  AMBIGUOUS_OPTION,
  TIMESTAMP_FORMAT_OPTION,
  COLUMNS_OPTION,
  INVALID_ROWS_OPTION,
] as const;
export type UploadOptionValues = Partial<Record<(typeof UPLOAD_OPTIONS)[number], string>>;

/** One option's value from the query or a form field; empty counts as not given. */
function optionValue(req: Request, name: string): string | undefined {
  const fromQuery: unknown = req.query[name];
  const body = req.body as Record<string, unknown> | undefined;
  const fromField: unknown = body?.[name];
  if (fromQuery !== undefined && typeof fromQuery !== 'string') {
    throw new ValidationError(`The ${name} option may be given once`);
  }
  if (fromField !== undefined && typeof fromField !== 'string') {
    throw new ValidationError(`The ${name} option may be given once`);
  }
  if (fromQuery !== undefined && fromField !== undefined && fromQuery !== fromField) {
    throw new ValidationError(
      `The ${name} option is given twice with different values ("${echoed(fromQuery)}" and "${echoed(fromField)}")`,
    );
  }
  const value = fromQuery ?? fromField;
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** The options the request has given so far, as sent. */
export function optionValues(req: Request): UploadOptionValues {
  return Object.fromEntries(UPLOAD_OPTIONS.map((name) => [name, optionValue(req, name)]));
}

/** The named zone, or a ValidationError saying what a zone name looks like. */
function timeZoneNamed(name: string): TimeZone {
  const zone = TimeZone.named(name);
  if (zone === undefined) {
    throw new ValidationError(
      `${TIMEZONE_OPTION} "${echoed(name)}" is not an IANA time zone name; use one such as Europe/Berlin, America/New_York or UTC`,
    );
  }
  return zone;
}

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  const found = allowed.find((a) => a === value);
  if (found === undefined) {
    throw new ValidationError(`${name} "${echoed(value)}" must be ${allowed.join(' or ')}`);
  }
  return found;
}

/** The options checked: a ValidationError names a bad value or a missing companion option. */
export function readOptionsOf(values: UploadOptionValues): ReadOptions {
  const zone = values.timezone === undefined ? undefined : timeZoneNamed(values.timezone);
  const ambiguous = oneOf(AMBIGUOUS_OPTION, values.ambiguous, ['earlier', 'later'] as const);
  if (ambiguous !== undefined && zone === undefined) {
    throw new ValidationError(
      `${AMBIGUOUS_OPTION} applies to date-times read in the zone the ${TIMEZONE_OPTION} option names; give ${TIMEZONE_OPTION} too`,
    );
  }
  const declared = values.timestampFormat;
  const format = declared === undefined ? undefined : timestampFormatNamed(declared);
  if (declared !== undefined && format === undefined) {
    throw new ValidationError(
      `${TIMESTAMP_FORMAT_OPTION} "${echoed(declared)}" is not one of the formats read: ${TIMESTAMP_FORMATS_TEXT}`,
    );
  }
  if (format?.zoneless === true && zone === undefined) {
    throw new ValidationError(
      `${TIMESTAMP_FORMAT_OPTION} ${format.name} has no zone: name the zone its values are in with the ${TIMEZONE_OPTION} option (e.g. ${TIMEZONE_OPTION}=Europe/Berlin)`,
    );
  }
  const columns = values.columns === undefined ? undefined : parseColumnMapping(values.columns);
  const skip = oneOf(INVALID_ROWS_OPTION, values.invalidRows, ['strict', 'skip'] as const);
  return { zone, ambiguous, format, columns, skipInvalid: skip === 'skip' };
}

/** The error for options that changed after the file was read with them (a field after the file). */
export function lateOptions(
  readWith: UploadOptionValues,
  now: UploadOptionValues,
): ValidationError | undefined {
  const late = UPLOAD_OPTIONS.find((name) => readWith[name] !== now[name]);
  if (late === undefined) return undefined;
  return new ValidationError(
    `The ${late} field came after the file, too late for its rows: send it before the file field ` +
      `(or as the query parameter ?${late}=…)`,
  );
}
