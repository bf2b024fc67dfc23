import { PassThrough, Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { CsvError, parse, type Info } from 'csv-parse';
import { InvalidRowsError, ValidationError } from '../../errors';
import {
  chooseDelimiter,
  DelimitedCsvParser,
  triedDelimitersText,
  type DelimiterChoice,
} from './csvDelimiter';
import { ByteCap, isZlibError } from './compressed';
import { resolveHeader, type Columns } from './csvHeader';
import { LineCounter } from './lineCounter';
import type { ReadOptions } from './readOptions';
import type { SpoolWriter } from './spool';
import { RowCheck, type SkipReport } from './rowCheck';
import { notUtf8Reason } from './storableText';
import { validateRow } from './validateRow';

export const MAX_ROW_BYTES = 64 * 1024;

export interface ParsedUpload {
  /** The rows to store: all of them, or the valid ones when invalid rows are skipped. */
  totalRows: number;
  /** With invalidRows=skip, the rows left out. */
  skipped?: SkipReport;
}

export interface ParseOptions extends ReadOptions {
  /** The name the client gave the file: `.gz` means gzip (so do gzip's magic bytes 1f 8b). */
  fileName?: string;
  /** MAX_UPLOAD_BYTES, applied to the decompressed bytes of a gzip file (the HTTP layer caps the rest). */
  maxBytes?: number;
  /** The error for a gzip file that decompresses to more than maxBytes (a 413). */
  tooLarge?: () => Error;
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const UTF16LE_BOM = Buffer.from([0xff, 0xfe]);

/**
 * The first `bytes` bytes of a stream, and the stream to read from afterwards (the same one with
 * them put back, or a new one when the stream ended meanwhile).
 */
async function peek(stream: Readable, bytes: number): Promise<{ head: Buffer; rest: Readable }> {
  const parts: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < bytes && !ended) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) {
      parts.push(chunk);
      size += chunk.length;
      continue;
    }
    ended = await new Promise<boolean>((resolve, reject) => {
      const cleanup = (): void => {
        stream.off('readable', onReadable);
        stream.off('end', onEnd);
        stream.off('error', onError);
      };
      const onReadable = (): void => {
        cleanup();
        resolve(false);
      };
      const onEnd = (): void => {
        cleanup();
        resolve(true);
      };
      const onError = (error: Error): void => {
        cleanup();
        reject(error);
      };
      stream.on('readable', onReadable);
      stream.on('end', onEnd);
      stream.on('error', onError);
    });
  }
  const head = Buffer.concat(parts);
  if (ended) return { head, rest: Readable.from(head.length > 0 ? [head] : []) };
  if (head.length > 0) stream.unshift(head);
  return { head, rest: stream };
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

/** Thrown inside the row loop once the file is refused whatever the rest holds. */
class EnoughErrors extends Error {}

/**
 * Streams a CSV through csv-parse, validates every row and spools the valid events. Keeps checking
 * after the first bad row so the rejection lists up to MAX_LISTED_ERRORS; past that, the rest of
 * the file is read and dropped without being parsed. Throws ValidationError (bad header, empty file) or InvalidRowsError (bad rows, broken CSV).
 */
export async function parseCsvToSpool(
  input: Readable,
  spool: SpoolWriter,
  options: ParseOptions = {},
): Promise<ParsedUpload> {
  const { source, drain } = detachable(input);
  let peeked: { head: Buffer; rest: Readable };
  try {
    peeked = await peek(source, GZIP_MAGIC.length);
  } catch (error) {
    drain();
    throw error;
  }
  const gzip =
    peeked.head.subarray(0, GZIP_MAGIC.length).equals(GZIP_MAGIC) ||
    (options.fileName?.toLowerCase().endsWith('.gz') ?? false);
  // csv-parse decodes UTF-16 little-endian by its byte order mark (bom: true); nothing else.
  const notUtf8 =
    gzip || peeked.head.subarray(0, 2).equals(UTF16LE_BOM) ? undefined : notUtf8Reason(peeked.head);
  if (notUtf8 !== undefined) {
    drain();
    throw new ValidationError(
      `The file is not UTF-8 text (${notUtf8}): save it as UTF-8 and upload it again`,
    );
  }
  // A plain file passes two PassThroughs instead (the HTTP layer caps its bytes already).
  const { maxBytes, tooLarge } = options;
  const gunzip: Transform = gzip ? createGunzip() : new PassThrough();
  const cap: Transform =
    gzip && maxBytes !== undefined && tooLarge !== undefined
      ? new ByteCap(maxBytes, tooLarge)
      : new PassThrough();
  const counter = new LineCounter();
  // Lines are counted as the parser finds each record, not as the rows are read: a broken record
  // can stop the parser while records before it still wait to be read.
  const firstLineOf = new WeakMap<string[], number>();
  let lastLine = 0;
  let choice: DelimiterChoice | undefined;
  const parser = new DelimitedCsvParser((headerLine) => {
    choice = chooseDelimiter(headerLine, options.columns);
    return parse({
      bom: true,
      delimiter: choice.delimiter,
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
  }, MAX_ROW_BYTES);
  const check = new RowCheck(options.skipInvalid);
  let columns: Columns | undefined;
  let totalRows = 0;
  // What stopped the rows, if they stopped: the pipeline may reject with an AbortError instead.
  let stoppedBy: unknown;

  const readRows = async (rows: AsyncIterable<string[]>): Promise<void> => {
    for await (const record of rows) {
      const line = firstLineOf.get(record) ?? 0;
      // Spreadsheet leftovers (`,,,`) are skipped like blank lines, before the header too.
      if (record.every((field) => field.trim() === '')) continue;
      if (columns === undefined) {
        const note = choice?.matched === false ? triedDelimitersText() : undefined;
        columns = resolveHeader(record, note, options.columns);
        continue;
      }
      if (check.enough) throw new EnoughErrors();
      await check.pace();
      totalRows++;
      const result = validateRow(record, columns, line, { ...options, delimiter: choice?.delimiter });
      if (result.ok) {
        if (!check.failed) await spool.write(result.event);
        continue;
      }
      check.add(result.errors);
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
    await pipeline(peeked.rest, gunzip, cap, counter, parser, rowsFrom);
  } catch (pipelineError) {
    drain();
    const error = stoppedBy ?? pipelineError;
    if (error instanceof EnoughErrors) throw check.refusal('file', 'rows', totalRows);
    if (gzip && isZlibError(error)) {
      throw new ValidationError(
        `The file is not a readable gzip file (${error.message}): a .gz upload must be gzip-compressed CSV, complete`,
      );
    }
    if (!(error instanceof CsvError)) throw error;
    const row = lastLine + 1;
    check.add([{ row, field: '*', message: structuralMessage(error) }]);
    throw new InvalidRowsError(
      `The CSV cannot be read at line ${row}: ${structuralMessage(error)}`,
      check.listed,
      check.count,
    );
  }

  if (columns === undefined) throw new ValidationError('The file is empty: expected a header line and rows');
  if (totalRows === 0) throw new ValidationError('The file has a header line but no data rows');
  if (check.failed || check.nothingValid) throw check.refusal('file', 'rows');
  const skipped = check.report();
  return skipped === undefined ? { totalRows } : { totalRows: totalRows - skipped.skippedRows, skipped };
}
