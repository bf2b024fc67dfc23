import { ValidationError } from '../../errors';
import { echoed } from './validateRow';

/**
 * The names a CSV column (or a JSON key) may have for each field of an event: ours, the common
 * names of exports from other tools (Amplitude, Mixpanel, PostHog, spreadsheets), or one the
 * `columns` option maps (`columns=userId:candidate_id,eventType:action`). `insert_id` is no alias:
 * it stays an extra column kept in metadata, and the dedupe key is (userId, eventType, instant) as
 * for every event.
 */

export type Field = 'userId' | 'eventType' | 'timestamp' | 'metadata';
export type ColumnMapping = Partial<Record<Field, string>>;

export const COLUMNS_OPTION = 'columns';

const FIELDS: readonly Field[] = ['userId', 'eventType', 'timestamp', 'metadata'];

/** Lower-cased, as header names are matched case-insensitively. */
const ALIASES: Record<Field, string[]> = {
  userId: ['userid', 'user_id', 'distinct_id'],
  eventType: ['eventtype', 'event_type', 'event_name', 'event'],
  timestamp: ['timestamp', 'time', 'event_time'],
  metadata: ['metadata', 'properties', 'event_properties'],
};

/** The lower-cased names that are `field`'s column: the mapped one alone, else the aliases. */
export function namesOf(field: Field, mapping: ColumnMapping): string[] {
  const mapped = mapping[field];
  return mapped === undefined ? ALIASES[field] : [mapped];
}

/** Reads the option's `field:column` pairs, comma-separated; names are lower-cased. */
export function parseColumnMapping(text: string): ColumnMapping {
  const mapping: ColumnMapping = {};
  for (const pair of text.split(',')) {
    const [field, column, ...rest] = pair.split(':').map((part) => part.trim());
    const known = FIELDS.find((f) => f.toLowerCase() === field?.toLowerCase());
    if (known === undefined || column === undefined || column === '' || rest.length > 0) {
      throw new ValidationError(
        `${COLUMNS_OPTION} "${echoed(text)}" must be field:column pairs separated by commas, the fields among ` +
          `${FIELDS.join(', ')} (e.g. ${COLUMNS_OPTION}=userId:candidate_id,eventType:action)`,
      );
    }
    if (mapping[known] !== undefined) throw new ValidationError(`${COLUMNS_OPTION} maps ${known} twice`);
    if (Object.values(mapping).includes(column.toLowerCase())) {
      throw new ValidationError(`${COLUMNS_OPTION} maps two fields to the column "${echoed(column)}"`);
    }
    mapping[known] = column.toLowerCase();
  }
  return mapping;
}
