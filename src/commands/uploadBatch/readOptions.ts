import type { ColumnMapping } from './columnNames';
import type { Ambiguous, TimeZone } from './parseTimestamp';
import type { TimestampFormat } from './timestampFormat';

/**
 * How an upload's rows (or a JSON body's events) are read, from the upload options: checked once
 * per request by http/uploadOptions, the same for POST /api/uploads and POST /api/events.
 */
export interface ReadOptions {
  /** The timezone option: the zone of date-times written without one. */
  zone?: TimeZone;
  /** The ambiguous option: which instant a wall time the zone passes twice means. */
  ambiguous?: Ambiguous;
  /** The timestampFormat option: the one form of every timestamp. */
  format?: TimestampFormat;
  /** The columns option: field names mapped to the file's column names (or the body's keys). */
  columns?: ColumnMapping;
  /** invalidRows=skip: store the valid rows and report the others, instead of refusing the file. */
  skipInvalid?: boolean;
}
