import { Transform, type TransformCallback } from 'node:stream';
import type { Parser } from 'csv-parse';
import { ValidationError } from '../../errors';
import type { ColumnMapping } from './columnNames';
import { coversRequired } from './csvHeader';

/**
 * A CSV's delimiter, decided from its header line: comma, semicolon or tab, whichever splits the
 * header into the required column names (or their aliases, or the mapped names). Exactly one must: a header that two of them split into
 * those names is refused rather than guessed.
 */

export const DELIMITERS = [',', ';', '\t'] as const;
export type Delimiter = (typeof DELIMITERS)[number];

export function delimiterName(delimiter: Delimiter): string {
  return delimiter === ',' ? 'comma (,)' : delimiter === ';' ? 'semicolon (;)' : 'tab';
}

/** The header's fields split by `delimiter`, honouring double quotes, trimmed and unquoted. */
function splitHeader(line: string, delimiter: Delimiter): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (const char of line) {
    if (char === '"') quoted = !quoted;
    else if (char === delimiter && !quoted) {
      fields.push(field);
      field = '';
    } else field += char;
  }
  fields.push(field);
  return fields.map((f) => f.trim().toLowerCase());
}

export interface DelimiterChoice {
  delimiter: Delimiter;
  /** False when no candidate split the header into the required names (the header then fails). */
  matched: boolean;
}

export function chooseDelimiter(headerLine: string, mapping?: ColumnMapping): DelimiterChoice {
  const matching = DELIMITERS.filter((d) => coversRequired(splitHeader(headerLine, d), mapping));
  const [only, another] = matching;
  if (only !== undefined && another === undefined) return { delimiter: only, matched: true };
  if (only !== undefined && another !== undefined) {
    throw new ValidationError(
      `The header line can be read with more than one delimiter (${matching.map(delimiterName).join(', ')}); ` +
        'quote the column names that hold the other character',
    );
  }
  return { delimiter: ',', matched: false };
}

/** What the header line's failure adds when no delimiter matched: which ones were tried. */
export function triedDelimitersText(): string {
  return `the header was read with the delimiter comma (,); semicolon (;) and tab were tried too and none of them split it into userId, eventType and timestamp`;
}

const NEWLINE = 0x0a;
const NOT_BLANK = /[^,;\t \r]/;

/** The first line that holds more than delimiters and blanks, once it is complete. */
function headerLineOf(text: string, complete: boolean): string | undefined {
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    if (end === -1) {
      return complete ? text.slice(start) : undefined;
    }
    const line = text.slice(start, end).replace(/\r$/, '');
    if (NOT_BLANK.test(line)) return line;
    start = end + 1;
  }
}

/**
 * Bytes in, CSV records out: holds the first bytes until the header line is complete, then creates
 * the csv-parse parser for its delimiter (`create`) and feeds it everything. Records leave as the
 * parser makes them, so at most one input chunk's records wait here.
 */
export class DelimitedCsvParser extends Transform {
  private head: Buffer[] = [];
  private headBytes = 0;
  private parser: Parser | undefined;

  constructor(
    private readonly create: (headerLine: string) => Parser,
    private readonly maxHeadBytes: number,
  ) {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.parser !== undefined) {
      this.forward(this.parser, chunk, callback);
      return;
    }
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (
      this.headBytes >= this.maxHeadBytes ||
      (chunk.includes(NEWLINE) && this.headerLine(false) !== undefined)
    ) {
      this.start(callback);
    } else callback();
  }

  override _flush(callback: TransformCallback): void {
    const finish = (parser: Parser): void => {
      parser.once('end', () => {
        callback();
      });
      parser.end();
    };
    if (this.parser !== undefined) {
      finish(this.parser);
      return;
    }
    this.start((error?: Error | null) => {
      if (error !== undefined && error !== null) callback(error);
      else if (this.parser !== undefined) finish(this.parser);
      else callback();
    });
  }

  private headerLine(complete: boolean): string | undefined {
    const text = Buffer.concat(this.head)
      .toString('utf8')
      .replace(/^\uFEFF/, '');
    return headerLineOf(text, complete);
  }

  private start(callback: TransformCallback): void {
    const all = Buffer.concat(this.head);
    let parser: Parser;
    try {
      parser = this.create(this.headerLine(true) ?? '');
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.head = [];
    this.parser = parser;
    parser.on('data', (record: string[]) => {
      this.push(record);
    });
    parser.on('error', (error) => {
      this.destroy(error);
    });
    this.forward(parser, all, callback);
  }

  private forward(parser: Parser, chunk: Buffer, callback: TransformCallback): void {
    if (parser.write(chunk)) callback();
    else
      parser.once('drain', () => {
        callback();
      });
  }
}
