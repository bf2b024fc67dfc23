import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse, type Info } from 'csv-parse';
import { InvalidRowsError, ValidationError } from '../../errors';
import { resolveHeader, type Columns } from './csvHeader';
import { LineCounter } from './lineCounter';
import type { SpoolWriter } from './spool';
import { validateRow, type RowError } from './validateRow';

export const MAX_ROW_BYTES = 64 * 1024;
/** How many row errors a rejection lists; errorCount still counts them all. */
export const MAX_LISTED_ERRORS = 100;

export interface ParsedUpload {
  totalRows: number;
}

function structuralMessage(error: CsvError): string {
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is never closed (unbalanced quotes)';
    case 'CSV_MAX_RECORD_SIZE':
      return `the row is longer than ${MAX_ROW_BYTES / 1024} KiB`;
    case 'INVALID_OPENING_QUOTE':
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'a quote appears where it is not allowed (quote the whole field and double inner quotes)';
    default:
      return `the CSV cannot be read (${error.code})`;
  }
}

/**
 * Streams a CSV through csv-parse, validates every row and spools the valid events. Reads the
 * whole file even after the first bad row so the rejection can say how many errors there are.
 * Throws ValidationError (bad header, empty file) or InvalidRowsError (bad rows, broken CSV).
 */
export async function parseCsvToSpool(input: Readable, spool: SpoolWriter): Promise<ParsedUpload> {
  const counter = new LineCounter();
  const parser = parse({
    bom: true,
    info: true,
    record_delimiter: ['\r\n', '\n'],
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: MAX_ROW_BYTES,
  });
  const errors: RowError[] = [];
  let errorCount = 0;
  let columns: Columns | undefined;
  let totalRows = 0;
  let lastLine = 0;

  const rowsFrom = async (source: AsyncIterable<{ record: string[]; info: Info }>): Promise<void> => {
    for await (const { record, info } of source) {
      const endLine = counter.newlinesBefore(info.bytes - 1) + 1;
      const insideNewlines = record.reduce((n, field) => n + field.split('\n').length - 1, 0);
      const line = endLine - insideNewlines;
      lastLine = endLine;
      if (columns === undefined) {
        columns = resolveHeader(record);
        continue;
      }
      totalRows++;
      const result = validateRow(record, columns, line);
      if (result.ok) {
        if (errorCount === 0) await spool.write(result.event);
        continue;
      }
      errorCount += result.errors.length;
      for (const e of result.errors) if (errors.length < MAX_LISTED_ERRORS) errors.push(e);
    }
  };

  try {
    await pipeline(input, counter, parser, rowsFrom);
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    errorCount++;
    const row = lastLine + 1;
    if (errors.length < MAX_LISTED_ERRORS)
      errors.push({ row, field: '*', message: structuralMessage(error) });
    throw new InvalidRowsError(
      `The CSV cannot be read at line ${row}: ${structuralMessage(error)}`,
      errors,
      errorCount,
    );
  }

  if (columns === undefined) throw new ValidationError('The file is empty: expected a header line and rows');
  if (totalRows === 0) throw new ValidationError('The file has a header line but no data rows');
  if (errorCount > 0) {
    throw new InvalidRowsError(
      `The file has ${errorCount} invalid value${errorCount === 1 ? '' : 's'}; nothing was stored`,
      errors,
      errorCount,
    );
  }
  return { totalRows };
}
