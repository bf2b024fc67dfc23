import { z } from 'zod';

/**
 * The upload options as OpenAPI documents them, the same on POST /api/uploads (query or form
 * field) and POST /api/events (query). Optional, so Swagger UI starts them empty
 * (optionalInputs.ts turns each example into words in the description).
 */
export const uploadOptionParameters = {
  timezone: z.string().optional().meta({
    description:
      'IANA time zone of the date-times written without a zone (e.g. Europe/Berlin); values with a zone or epoch numbers ignore it',
    example: 'Europe/Berlin',
  }),
  ambiguous: z.enum(['earlier', 'later']).optional().meta({
    description:
      'With timezone: which instant a wall time in the hour the clocks go back (it happens twice) means. Without it such a time is a row error; a time the clocks skip stays one',
    example: 'earlier',
  }),
  timestampFormat: z.string().optional().meta({
    description:
      'The one form of every timestamp, read in timezone (required with it, except for epoch_us): DD.MM.YYYY, DD/MM/YYYY, MM/DD/YYYY or YYYY-MM-DD, optionally followed by " HH:mm" or " HH:mm:ss" (a date alone is 00:00 in the zone), or epoch_us (microseconds since 1970)',
    example: 'DD.MM.YYYY HH:mm',
  }),
  columns: z.string().optional().meta({
    description:
      'field:column pairs naming the columns (or JSON keys) of userId, eventType, timestamp and metadata when their names are none of the aliases read anyway (user_id, distinct_id; event_type, event_name, event; time, event_time; properties, event_properties)',
    example: 'userId:candidate_id,eventType:action',
  }),
  invalidRows: z.enum(['strict', 'skip']).optional().meta({
    description:
      'strict (the default): any invalid row refuses the whole upload. skip: the valid rows are stored and the 201 adds skippedRows, the first 100 errors (skipped) and one line per kind of problem (problems)',
    example: 'skip',
  }),
};
