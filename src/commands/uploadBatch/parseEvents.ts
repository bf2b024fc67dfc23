import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ValidationError } from '../../errors';
import type { Columns } from './csvHeader';
import { ArrayElements } from './jsonArrayElements';
import { MAX_ROW_BYTES, type ParsedUpload } from './parseCsv';
import type { ColumnMapping } from './columnNames';
import { shapeOf } from './eventShapes';
import type { ReadOptions } from './readOptions';
import { RowCheck } from './rowCheck';
import { notUtf8Reason } from './storableText';
import { metadataProblem } from './metadata';
import { echoed, echoedJson, validateRow, type RowError, type ValidEvent } from './validateRow';

/**
 * POST /api/events: events as JSON, `{userId, eventType, timestamp, metadata?}` each (or in the
 * shapes eventShapes reads), either one per line (application/x-ndjson) or as one JSON array
 * (application/json). Every event is turned into
 * the four cells of a CSV row and checked by the same validateRow as an upload, into the same
 * spool, so the same rules hold. Row errors carry the event's index (from 0; blank ndjson lines do
 * not count). Streamed: at most one event (MAX_ROW_BYTES) is held at a time.
 */

export type EventsFormat = 'ndjson' | 'array';

const COLUMNS: Columns = { count: 4, userId: 0, eventType: 1, timestamp: 2, metadata: 3, extra: [] };

/** The event as the cells validateRow reads, or the errors of its shape. */
function cellsOf(
  item: unknown,
  index: number,
  mapping: ColumnMapping,
): { cells: string[] } | { errors: RowError[] } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    return {
      errors: [
        {
          row: index,
          field: '*',
          message: 'an event must be a JSON object {userId, eventType, timestamp, metadata?}',
          value: echoedJson(item),
        },
      ],
    };
  }
  const errors: RowError[] = [];
  const shaped = shapeOf(item as Record<string, unknown>, mapping);
  const { keys } = shaped;
  for (const key of shaped.unknown) {
    errors.push({
      row: index,
      field: key,
      message: `unknown field "${echoed(key)}": an event has userId, eventType, timestamp and metadata (put anything else in metadata)`,
    });
  }
  for (const key of shaped.clashes) {
    errors.push({
      row: index,
      field: keys.metadata,
      message: `two keys both become the metadata key "${echoed(key)}"`,
    });
  }
  const text = (field: 'userId' | 'eventType'): string => {
    const value = shaped[field];
    if (value === undefined || typeof value === 'string') return value ?? '';
    errors.push({
      row: index,
      field: keys[field],
      message: `${keys[field]} must be a string`,
      value: echoedJson(value),
    });
    return '';
  };
  const userId = text('userId');
  const eventType = text('eventType');
  const stamp = shaped.timestamp;
  let timestamp = '';
  // A number is read by the digits it is written with, as in a CSV cell (10 = seconds, 13 = ms).
  if (typeof stamp === 'string') timestamp = stamp;
  else if (typeof stamp === 'number' && Number.isFinite(stamp)) timestamp = String(stamp);
  else if (stamp !== undefined) {
    errors.push({
      row: index,
      field: keys.timestamp,
      message: `${keys.timestamp} must be a string or a number`,
      value: echoedJson(stamp),
    });
  }
  const meta = shaped.metadata;
  const absent = meta === undefined || meta === null;
  // Checked before it is written out for validateRow: a value nested too deep cannot be written.
  const problem = absent ? undefined : metadataProblem(meta);
  if (problem !== undefined) {
    errors.push({
      row: index,
      field: keys.metadata,
      message: `${keys.metadata} ${problem}`,
      value: echoedJson(meta),
    });
  }
  if (errors.length > 0) return { errors };
  const metadata = absent ? '' : JSON.stringify(meta);
  return { cells: [userId, eventType, timestamp, metadata] };
}

/** Thrown inside the reading loop once the body is refused whatever the rest holds. */
class EnoughErrors extends Error {}

/**
 * Validates the body's events into the spool; throws ValidationError / InvalidRowsError as an upload
 * does. Once MAX_LISTED_ERRORS are known, the rest of the body is read without being parsed.
 */
export async function parseEventsToSpool(
  input: Readable,
  spool: { write(event: ValidEvent): Promise<void> },
  format: EventsFormat,
  options: ReadOptions = {},
): Promise<ParsedUpload> {
  const decoder = new StringDecoder('utf8');
  const check = new RowCheck(options.skipInvalid);
  let index = 0;
  const elements = format === 'array' ? new ArrayElements() : undefined;
  let line = '';

  const take = async (text: string): Promise<void> => {
    if (check.enough) throw new EnoughErrors();
    await check.pace();
    const at = index++;
    let item: unknown;
    try {
      item = JSON.parse(text);
    } catch {
      check.add([{ row: at, field: '*', message: 'the event is not valid JSON', value: echoed(text) }]);
      return;
    }
    const shaped = cellsOf(item, at, options.columns ?? {});
    const result =
      'errors' in shaped
        ? { ok: false as const, errors: shaped.errors }
        : validateRow(shaped.cells, COLUMNS, at, options);
    if (result.ok) {
      if (!check.failed) await spool.write(result.event);
      return;
    }
    check.add(result.errors);
  };

  const feed = async (text: string): Promise<void> => {
    if (elements !== undefined) {
      for (const element of elements.push(text)) await take(element);
      return;
    }
    line += text;
    let newline = line.indexOf('\n');
    while (newline !== -1) {
      const one = line.slice(0, newline).trim();
      line = line.slice(newline + 1);
      if (one !== '') await take(one);
      newline = line.indexOf('\n');
    }
    if (line.length > MAX_ROW_BYTES) {
      throw new ValidationError(`Line ${index + 1} of the body is longer than ${MAX_ROW_BYTES / 1024} KiB`);
    }
  };

  const chunks = input[Symbol.asyncIterator]();
  try {
    let first = true;
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) {
      const bytes = next.value as Buffer;
      const notUtf8 = first ? notUtf8Reason(bytes) : undefined;
      if (notUtf8 !== undefined) {
        throw new ValidationError(`The body is not UTF-8 text (${notUtf8}): send it as UTF-8`);
      }
      let text = decoder.write(bytes);
      if (first) {
        text = text.replace(/^\uFEFF/, '');
        first = false;
      }
      await feed(text);
    }
    await feed(decoder.end());
    if (elements !== undefined) elements.end();
    else if (line.trim() !== '') await take(line.trim());
  } catch (error) {
    if (!(error instanceof EnoughErrors)) {
      await chunks.return?.();
      throw error;
    }
    // Read to the end (the size cap still counts it) so the client gets the answer after its body.
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next());
    throw check.refusal('body', 'events', index);
  }

  if (index === 0) throw new ValidationError('The body holds no events');
  if (check.failed || check.nothingValid) throw check.refusal('body', 'events');
  const skipped = check.report();
  return skipped === undefined ? { totalRows: index } : { totalRows: index - skipped.skippedRows, skipped };
}
