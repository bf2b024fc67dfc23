import { InvalidRowsError, ValidationError } from '../../errors';
import { COLUMNS_OPTION, namesOf, type ColumnMapping, type Field } from './columnNames';
import { unsafeKeyReason } from './metadata';

/** Where each known column sits in a row, resolved once from the header line. */
export interface Columns {
  count: number;
  userId: number;
  eventType: number;
  timestamp: number;
  metadata: number | undefined;
  /** Other columns, added to metadata as strings under their header name. */
  extra: { index: number; name: string }[];
}

/**
 * Every row is checked column by column and its extra columns become metadata keys; a bound keeps
 * that work per row small (10,000 columns fit in one 64 KiB line).
 */
export const MAX_COLUMNS = 100;

const ALIASES_TEXT =
  'userId (or user_id, distinct_id), eventType (or event_type, event_name, event) and timestamp (or time, event_time)';

/** Where each field's column is among `names` (lower-cased), by mapping or alias; throws when two columns could be one field. */
function locate(names: string[], mapping: ColumnMapping): Partial<Record<Field, number>> {
  const found: Partial<Record<Field, number>> = {};
  for (const field of ['userId', 'eventType', 'timestamp', 'metadata'] as const) {
    const candidates = namesOf(field, mapping);
    const at = names.flatMap((name, index) => (candidates.includes(name) ? [index] : []));
    const [first, second] = at;
    if (second !== undefined) {
      const both = at.map((index) => `"${names[index] ?? ''}"`).join(' and ');
      throw new ValidationError(
        `The header has ${both}, which could each be ${field}: name the one meant with the ${COLUMNS_OPTION} option ` +
          `(e.g. ${COLUMNS_OPTION}=${field}:${names[first ?? 0] ?? ''})`,
      );
    }
    if (first !== undefined) found[field] = first;
  }
  return found;
}

/** True when `names` (lower-cased header fields) hold a column for every required field. */
export function coversRequired(names: string[], mapping: ColumnMapping = {}): boolean {
  return (['userId', 'eventType', 'timestamp'] as const).every((field) =>
    namesOf(field, mapping).some((name) => names.includes(name)),
  );
}

/** Matches column names case-insensitively and trimmed; throws ValidationError for a bad header. */
export function resolveHeader(
  fields: string[],
  delimiterNote?: string,
  mapping: ColumnMapping = {},
): Columns {
  if (fields.length > MAX_COLUMNS) {
    const message = `the header has ${fields.length} columns; at most ${MAX_COLUMNS} are allowed`;
    throw new InvalidRowsError(
      `The header line has ${fields.length} columns; a file may have at most ${MAX_COLUMNS} columns. Nothing was stored`,
      [{ row: 1, field: '*', message }],
      1,
    );
  }
  const names = fields.map((f) => f.trim());
  const lower = names.map((name) => name.toLowerCase());
  lower.forEach((name, index) => {
    if (name === '') throw new ValidationError(`Header column ${index + 1} has no name`);
    if (lower.indexOf(name) !== index)
      throw new ValidationError(`Header names the column "${names[index] ?? ''}" twice`);
  });
  for (const [field, name] of Object.entries(mapping)) {
    if (!lower.includes(name)) {
      throw new ValidationError(
        `The ${COLUMNS_OPTION} option maps ${field} to "${name}", but the header has no such column (it has ${names.join(', ')})`,
      );
    }
  }
  const at = locate(lower, mapping);
  const missing = (['userId', 'eventType', 'timestamp'] as const).filter((c) => at[c] === undefined);
  if (missing.length > 0) {
    throw new ValidationError(
      `Missing required column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} ` +
        `(the header line must name ${ALIASES_TEXT}; or map yours with the ${COLUMNS_OPTION} option, ` +
        `e.g. ${COLUMNS_OPTION}=userId:candidate_id,eventType:action` +
        `${delimiterNote === undefined ? '' : `; ${delimiterNote}`})`,
    );
  }
  const used = new Set(Object.values(at));
  const extra: Columns['extra'] = [];
  names.forEach((name, index) => {
    if (used.has(index)) return;
    const reason = unsafeKeyReason(name);
    if (reason !== undefined) throw new ValidationError(`Header column "${name}" ${reason}`);
    extra.push({ index, name });
  });
  return {
    count: names.length,
    userId: at.userId ?? -1,
    eventType: at.eventType ?? -1,
    timestamp: at.timestamp ?? -1,
    metadata: at.metadata,
    extra,
  };
}
