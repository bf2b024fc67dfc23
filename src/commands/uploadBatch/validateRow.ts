import { eventKey } from '../../events/rawEvents';
import type { Columns } from './csvHeader';
import { hiddenCharacterReason, normaliseIdentifier } from './identifierText';
import { parseMetadata } from './metadata';
import {
  inInstantRange,
  INSTANT_RANGE_TEXT,
  readTimestamp,
  type Ambiguous,
  type TimestampProblem,
  type TimeZone,
} from './parseTimestamp';
import type { TimestampFormat } from './timestampFormat';
import { unstorableTextReason } from './storableText';

/**
 * One problem in one row; `row` is the line number in the file (the header is line 1), or the
 * item's index for JSON uploads. `value` echoes what the row held, cut to MAX_ECHOED_CHARS.
 */
export interface RowError {
  row: number;
  field: string;
  message: string;
  value?: string;
  /** The kind of a timestamp problem, for the per-kind summary; not part of the answer's rows. */
  kind?: TimestampProblem;
}

/** How much of an offending value a row error echoes. */
export const MAX_ECHOED_CHARS = 100;

const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * The value as a row error echoes it: at most MAX_ECHOED_CHARS code points, `…` when cut, with
 * control and invisible characters written as `\uXXXX` (a bidi override would otherwise turn the
 * rest of the message around wherever it is shown).
 */
export function echoed(value: string): string {
  const points = Array.from(value);
  const cut = points.length <= MAX_ECHOED_CHARS ? value : `${points.slice(0, MAX_ECHOED_CHARS).join('')}…`;
  return cut.replace(
    INVISIBLE,
    (char) => `\\u${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
}

/**
 * A parsed JSON value echoed as its JSON text would be. Written only as far as the echo shows:
 * JSON.stringify of a value nested thousands deep overflows the stack, and of a large one costs
 * its whole size for the hundred characters kept.
 */
export function echoedJson(value: unknown): string {
  // Units, not code points: past twice the limit there are more code points than the echo keeps.
  const enough = 2 * MAX_ECHOED_CHARS;
  let out = '';
  const write = (item: unknown): void => {
    if (Array.isArray(item)) {
      out += '[';
      for (let i = 0; i < item.length && out.length <= enough; i++) {
        if (i > 0) out += ',';
        write(item[i]);
      }
      out += ']';
    } else if (typeof item === 'object' && item !== null) {
      out += '{';
      let first = true;
      for (const [key, inner] of Object.entries(item)) {
        if (out.length > enough) break;
        out += `${first ? '' : ','}${JSON.stringify(key)}:`;
        first = false;
        write(inner);
      }
      out += '}';
    } else out += JSON.stringify(item);
  };
  write(value);
  return echoed(out);
}

/** What one row is read with, decided once per upload. */
export interface RowContext {
  /** The zone of date-times written without one (the upload's timezone option). */
  zone?: TimeZone;
  /** Which instant a wall time the zone passes twice means (the ambiguous option). */
  ambiguous?: Ambiguous;
  /** The declared form of every timestamp (the timestampFormat option). */
  format?: TimestampFormat;
  /** The delimiter the row's fields were split by, to echo a row as it was written. */
  delimiter?: string;
}

/** A row that passed validation, ready to store. */
export interface ValidEvent {
  key: string;
  userId: string;
  eventType: string;
  timestamp: number;
  metadata: Record<string, unknown>;
}

export const MAX_ID_LENGTH = 256;

/** Length in Unicode code points, so an emoji counts once and not twice. */
export function codePoints(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdbff) n++;
  }
  return n;
}

function checkId(value: string, field: string, row: number, errors: RowError[]): void {
  const fail = (message: string) => errors.push({ row, field, message, value: echoed(value) });
  if (value === '') fail(`${field} is required`);
  else if (codePoints(value) > MAX_ID_LENGTH) fail(`${field} is longer than ${MAX_ID_LENGTH} characters`);
  else {
    const reason = unstorableTextReason(value) ?? hiddenCharacterReason(value);
    if (reason !== undefined) fail(`${field} ${reason}`);
  }
}

function checkText(value: string, field: string, row: number, errors: RowError[]): void {
  const reason = unstorableTextReason(value);
  if (reason !== undefined) errors.push({ row, field, message: `${field} ${reason}`, value: echoed(value) });
}

function checkTimestamp(
  text: string,
  row: number,
  errors: RowError[],
  context: RowContext,
): number | undefined {
  const { zone, ambiguous, format } = context;
  const reading: ReturnType<typeof readTimestamp> =
    text === ''
      ? { ok: false, message: 'is required' }
      : format !== undefined
        ? format.read(text, zone, ambiguous)
        : readTimestamp(text, zone, ambiguous);
  if (reading.ok && inInstantRange(reading.millis)) return reading.millis;
  const message = reading.ok
    ? `timestamp is out of range: in UTC it must lie from ${INSTANT_RANGE_TEXT}`
    : `timestamp ${reading.message}`;
  const kind = reading.ok ? undefined : reading.kind;
  errors.push({
    row,
    field: 'timestamp',
    message,
    value: echoed(text),
    ...(kind === undefined ? {} : { kind }),
  });
  return undefined;
}

export function validateRow(
  fields: string[],
  columns: Columns,
  row: number,
  context: RowContext = {},
): { ok: true; event: ValidEvent } | { ok: false; errors: RowError[] } {
  if (fields.length !== columns.count) {
    const message = `expected ${columns.count} fields, found ${fields.length}`;
    const value = echoed(fields.join(context.delimiter ?? ','));
    return { ok: false, errors: [{ row, field: '*', message, value }] };
  }
  const cell = (index: number): string => fields[index] ?? '';
  const errors: RowError[] = [];
  const userId = normaliseIdentifier(cell(columns.userId));
  const eventType = normaliseIdentifier(cell(columns.eventType));
  const timestampText = cell(columns.timestamp).trim();
  checkId(userId, 'userId', row, errors);
  checkId(eventType, 'eventType', row, errors);

  const timestamp = checkTimestamp(timestampText, row, errors, context);

  // A Map, so checking each extra column against the keys so far costs the same whatever their number.
  const metadata = new Map<string, unknown>();
  if (columns.metadata !== undefined) {
    const text = cell(columns.metadata);
    const parsed = parseMetadata(text);
    if (parsed.ok) for (const [key, value] of Object.entries(parsed.value)) metadata.set(key, value);
    else errors.push({ row, field: 'metadata', message: `metadata ${parsed.message}`, value: echoed(text) });
  }
  for (const { index, name } of columns.extra) {
    if (metadata.has(name)) {
      const message = `column "${name}" repeats a key of metadata`;
      errors.push({ row, field: name, message, value: echoed(cell(index)) });
    } else {
      const value = cell(index);
      checkText(value, name, row, errors);
      metadata.set(name, value);
    }
  }

  if (errors.length > 0 || timestamp === undefined) return { ok: false, errors };
  return {
    ok: true,
    event: {
      key: eventKey(userId, eventType, timestamp),
      userId,
      eventType,
      timestamp,
      // fromEntries defines own properties, so no key can reach a prototype.
      metadata: Object.fromEntries(metadata),
    },
  };
}
