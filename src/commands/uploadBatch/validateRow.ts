import { eventKey } from '../../events/rawEvents';
import type { Columns } from './csvHeader';
import { hiddenCharacterReason, normaliseIdentifier } from './identifierText';
import { parseMetadata } from './metadata';
import { inInstantRange, INSTANT_RANGE_TEXT, parseTimestamp } from './parseTimestamp';
import { unstorableTextReason } from './storableText';

/** One problem in one row; `row` is the line number in the file (the header is line 1). */
export interface RowError {
  row: number;
  field: string;
  message: string;
}

/** A row that passed validation, ready to store. */
export interface ValidEvent {
  key: string;
  userId: string;
  eventType: string;
  timestamp: number;
  metadata: Record<string, unknown>;
}

const MAX_ID_LENGTH = 256;

/** Length in Unicode code points, so an emoji counts once and not twice. */
function codePoints(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdbff) n++;
  }
  return n;
}

function checkId(value: string, field: string, row: number, errors: RowError[]): void {
  if (value === '') errors.push({ row, field, message: `${field} is required` });
  else if (codePoints(value) > MAX_ID_LENGTH) {
    errors.push({ row, field, message: `${field} is longer than ${MAX_ID_LENGTH} characters` });
  } else {
    const reason = unstorableTextReason(value) ?? hiddenCharacterReason(value);
    if (reason !== undefined) errors.push({ row, field, message: `${field} ${reason}` });
  }
}

function checkText(value: string, field: string, row: number, errors: RowError[]): void {
  const reason = unstorableTextReason(value);
  if (reason !== undefined) errors.push({ row, field, message: `${field} ${reason}` });
}

function checkTimestamp(text: string, row: number, errors: RowError[]): number | undefined {
  const millis = parseTimestamp(text);
  if (millis !== undefined && inInstantRange(millis)) return millis;
  const message =
    millis !== undefined
      ? `timestamp is out of range: in UTC it must lie from ${INSTANT_RANGE_TEXT}`
      : text === ''
        ? 'timestamp is required'
        : 'timestamp must be an ISO 8601 date and time with a zone, e.g. 2024-01-15T10:00:00Z';
  errors.push({ row, field: 'timestamp', message });
  return undefined;
}

export function validateRow(
  fields: string[],
  columns: Columns,
  row: number,
): { ok: true; event: ValidEvent } | { ok: false; errors: RowError[] } {
  if (fields.length !== columns.count) {
    const message = `expected ${columns.count} fields, found ${fields.length}`;
    return { ok: false, errors: [{ row, field: '*', message }] };
  }
  const cell = (index: number): string => fields[index] ?? '';
  const errors: RowError[] = [];
  const userId = normaliseIdentifier(cell(columns.userId));
  const eventType = normaliseIdentifier(cell(columns.eventType));
  const timestampText = cell(columns.timestamp).trim();
  checkId(userId, 'userId', row, errors);
  checkId(eventType, 'eventType', row, errors);

  const timestamp = checkTimestamp(timestampText, row, errors);

  // A Map, so checking each extra column against the keys so far costs the same whatever their number.
  const metadata = new Map<string, unknown>();
  if (columns.metadata !== undefined) {
    const parsed = parseMetadata(cell(columns.metadata));
    if (parsed.ok) for (const [key, value] of Object.entries(parsed.value)) metadata.set(key, value);
    else errors.push({ row, field: 'metadata', message: `metadata ${parsed.message}` });
  }
  for (const { index, name } of columns.extra) {
    if (metadata.has(name)) {
      errors.push({ row, field: name, message: `column "${name}" repeats a key of metadata` });
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
