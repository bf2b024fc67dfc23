import { z } from 'zod';

/** The row errors and their per-kind summary, as a refused upload and a skipping one answer them. */

export const rowErrorSchema = z.object({
  row: z.number().int().nonnegative().meta({
    description:
      'Line number in the file (the header is 1); for POST /api/events, the index of the event (from 0)',
  }),
  field: z.string().meta({ description: 'Column name, or * for the row as a whole' }),
  message: z.string(),
  value: z.string().optional().meta({
    description:
      'The offending value as the row held it, cut to 100 characters (… when cut); control and invisible characters are written as \\uXXXX',
  }),
});

export const problemsSchema = z
  .array(
    z.object({
      field: z
        .string()
        .meta({ description: 'The column (or key) of the problem, or * for the row as a whole' }),
      count: z.number().int().positive().meta({ description: 'Rows with this kind of problem' }),
      rows: z.array(z.number().int().nonnegative()).meta({ description: 'The first 5 of those rows' }),
      message: z.string().meta({ description: 'One line: what is wrong and what would help' }),
    }),
  )
  .meta({
    description:
      'One line per kind of problem, most frequent first: a timestamp problem (no zone, a repeated or skipped daylight saving hour, an unread form) is one kind whatever its value; any other is one kind per field and message',
  });

/** The fields a 201 adds when the upload was sent with invalidRows=skip. */
export const skipReportShape = {
  skippedRows: z.number().int().nonnegative().optional().meta({
    description: 'With invalidRows=skip: how many rows (or events) had errors and were not stored',
  }),
  skipped: z.array(rowErrorSchema).optional().meta({
    description: 'With invalidRows=skip: the first 100 errors of the skipped rows',
  }),
  problems: problemsSchema.optional(),
};
