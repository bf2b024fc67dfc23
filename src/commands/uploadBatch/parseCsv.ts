import { PassThrough, type Readable } from 'node:stream';
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
 * The upload's file stream as a source the pipeline may destroy. When reading stops early (a bad
 * header, a broken quote) the pipeline destroys its streams; destroyed itself, multer's file
 * stream would make multer answer with that stream's error before ours arrives. So the pipeline
 * gets a proxy, and `drain` reads the rest of the file and drops it, as the answer needs anyway.
 */
function detachable(input: Readable): { source: Readable; drain: () => void } {
  const source = new PassThrough();
  input.on('error', (error) => source.destroy(error));
  input.pipe(source);
  return {
    source,
    drain: () => {
      input.unpipe(source);
      input.resume();
    },
  };
}

/**
 * Streams a CSV through csv-parse, validates every row and spools the valid events. Reads the
 * whole file even after the first bad row so the rejection can say how many errors there are.
 * Throws ValidationError (bad header, empty file) or InvalidRowsError (bad rows, broken CSV).
 */
export async function parseCsvToSpool(input: Readable, spool: SpoolWriter): Promise<ParsedUpload> {
  const { source, drain } = detachable(input);
  const counter = new LineCounter();
  // Lines are counted as the parser finds each record, not as the rows are read: a broken record
  // can stop the parser while records before it still wait to be read.
  const firstLineOf = new WeakMap<string[], number>();
  let lastLine = 0;
  const parser = parse({
    bom: true,
    record_delimiter: ['\r\n', '\n'],
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: MAX_ROW_BYTES,
    on_record: (record: string[], { bytes }: Info) => {
      const endLine = counter.newlinesBefore(bytes - 1) + 1;
      const insideNewlines = record.reduce((n, field) => n + field.split('\n').length - 1, 0);
      firstLineOf.set(record, endLine - insideNewlines);
      lastLine = endLine;
      return record;
    },
  });
  const errors: RowError[] = [];
  let errorCount = 0;
  let columns: Columns | undefined;
  let totalRows = 0;
  // What stopped the rows, if they stopped: the pipeline may reject with an AbortError instead.
  let stoppedBy: unknown;

  const readRows = async (rows: AsyncIterable<string[]>): Promise<void> => {
    for await (const record of rows) {
      const line = firstLineOf.get(record) ?? 0;
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
  const rowsFrom = async (rows: AsyncIterable<string[]>): Promise<void> => {
    try {
      await readRows(rows);
    } catch (error) {
      stoppedBy = error;
      throw error;
    }
  };

  try {
    await pipeline(source, counter, parser, rowsFrom);
  } catch (pipelineError) {
    drain();
    const error = stoppedBy ?? pipelineError;
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
