import { namesOf, type ColumnMapping } from './columnNames';

/**
 * The shapes an event may have on POST /api/events, read into one: ours
 * `{userId, eventType, timestamp, metadata?}` (keys renamed by the columns option, if given),
 * Mixpanel's `{event, properties: {time, distinct_id, $insert_id, ...}}` and Amplitude's
 * `{user_id, event_type, time, event_properties, insert_id, ...}`. Mixpanel's remaining
 * properties and Amplitude's remaining keys become metadata, a leading `$` dropped (`$insert_id`
 * is kept as `insert_id`; it does not change the dedupe key).
 */

export interface ShapedEvent {
  userId: unknown;
  eventType: unknown;
  timestamp: unknown;
  metadata: unknown;
  /** The key each field came from, for row errors. */
  keys: { userId: string; eventType: string; timestamp: string; metadata: string };
  /** Keys the shape does not know (refused, for our own shape only). */
  unknown: string[];
  /** Metadata keys two source keys both became. */
  clashes: string[];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `rest` as metadata over `base`, each key without a leading `$`. */
function mergedMetadata(base: unknown, rest: [string, unknown][], clashes: string[]): unknown {
  if (base !== undefined && base !== null && !isObject(base)) return base;
  const out = new Map<string, unknown>(Object.entries(base ?? {}));
  for (const [key, value] of rest) {
    const name = key.replace(/^\$/, '');
    if (out.has(name)) clashes.push(name);
    else out.set(name, value);
  }
  return Object.fromEntries(out);
}

function mixpanel(record: Record<string, unknown>, properties: Record<string, unknown>): ShapedEvent {
  const clashes: string[] = [];
  const { time, distinct_id: distinctId, ...rest } = properties;
  const unknown = Object.keys(record).filter((key) => key !== 'event' && key !== 'properties');
  return {
    userId: distinctId,
    eventType: record.event,
    timestamp: time,
    metadata: mergedMetadata(undefined, Object.entries(rest), clashes),
    keys: {
      userId: 'properties.distinct_id',
      eventType: 'event',
      timestamp: 'properties.time',
      metadata: 'properties',
    },
    unknown,
    clashes,
  };
}

function amplitude(record: Record<string, unknown>): ShapedEvent {
  const clashes: string[] = [];
  const { user_id: userId, event_type: eventType, time, event_properties: properties, ...rest } = record;
  return {
    userId,
    eventType,
    timestamp: time,
    metadata: mergedMetadata(properties, Object.entries(rest), clashes),
    keys: { userId: 'user_id', eventType: 'event_type', timestamp: 'time', metadata: 'event_properties' },
    unknown: [],
    clashes,
  };
}

function ours(record: Record<string, unknown>, mapping: ColumnMapping): ShapedEvent {
  const keyOf = (field: 'userId' | 'eventType' | 'timestamp' | 'metadata'): string => {
    if (mapping[field] === undefined) return field;
    const [name] = namesOf(field, mapping);
    return Object.keys(record).find((key) => key.toLowerCase() === name) ?? name ?? field;
  };
  const keys = {
    userId: keyOf('userId'),
    eventType: keyOf('eventType'),
    timestamp: keyOf('timestamp'),
    metadata: keyOf('metadata'),
  };
  const known = new Set(Object.values(keys));
  return {
    userId: record[keys.userId],
    eventType: record[keys.eventType],
    timestamp: record[keys.timestamp],
    metadata: record[keys.metadata],
    keys,
    unknown: Object.keys(record).filter((key) => !known.has(key)),
    clashes: [],
  };
}

export function shapeOf(record: Record<string, unknown>, mapping: ColumnMapping): ShapedEvent {
  const mapped = Object.keys(mapping).length > 0;
  if (!mapped && 'event' in record && isObject(record.properties)) return mixpanel(record, record.properties);
  if (!mapped && !('userId' in record) && ('user_id' in record || 'event_type' in record))
    return amplitude(record);
  return ours(record, mapping);
}
