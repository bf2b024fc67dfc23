import { InvalidRowsError, ValidationError } from '../../errors';
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

const REQUIRED = ['userId', 'eventType', 'timestamp'] as const;

/**
 * Every row is checked column by column and its extra columns become metadata keys; a bound keeps
 * that work per row small (10,000 columns fit in one 64 KiB line).
 */
export const MAX_COLUMNS = 100;

/** Matches column names case-insensitively and trimmed; throws ValidationError for a bad header. */
export function resolveHeader(fields: string[], delimiterNote?: string): Columns {
  if (fields.length > MAX_COLUMNS) {
    const message = `the header has ${fields.length} columns; at most ${MAX_COLUMNS} are allowed`;
    throw new InvalidRowsError(
      `The header line has ${fields.length} columns; a file may have at most ${MAX_COLUMNS} columns. Nothing was stored`,
      [{ row: 1, field: '*', message }],
      1,
    );
  }
  const names = fields.map((f) => f.trim());
  const seen = new Map<string, number>();
  names.forEach((name, index) => {
    const lower = name.toLowerCase();
    if (name === '') throw new ValidationError(`Header column ${index + 1} has no name`);
    if (seen.has(lower)) throw new ValidationError(`Header names the column "${name}" twice`);
    seen.set(lower, index);
  });

  const missing = REQUIRED.filter((c) => !seen.has(c.toLowerCase()));
  if (missing.length > 0) {
    throw new ValidationError(
      `Missing required column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} ` +
        `(the header line must name userId, eventType and timestamp` +
        `${delimiterNote === undefined ? '' : `; ${delimiterNote}`})`,
    );
  }
  const at = (name: string): number => seen.get(name.toLowerCase()) ?? -1;
  const known = new Set(['userid', 'eventtype', 'timestamp', 'metadata']);
  const extra: Columns['extra'] = [];
  names.forEach((name, index) => {
    if (known.has(name.toLowerCase())) return;
    const reason = unsafeKeyReason(name);
    if (reason !== undefined) throw new ValidationError(`Header column "${name}" ${reason}`);
    extra.push({ index, name });
  });
  return {
    count: names.length,
    userId: at('userId'),
    eventType: at('eventType'),
    timestamp: at('timestamp'),
    metadata: seen.get('metadata'),
    extra,
  };
}
