import { ValidationError } from '../../errors';
import { MAX_ROW_BYTES } from './parseCsv';

/** Splits a JSON array's text into its elements' texts as the bytes arrive. */
export class ArrayElements {
  private state: 'start' | 'between' | 'element' | 'done' = 'start';
  private expectComma = false;
  private current = '';
  private depth = 0;
  private inString = false;
  private escaped = false;

  /** The elements completed by `text`. */
  push(text: string): string[] {
    const out: string[] = [];
    for (const char of text) {
      switch (this.state) {
        case 'start':
          if (char === '[') this.state = 'between';
          else if (!isSpace(char)) throw notAnArray();
          break;
        case 'done':
          if (!isSpace(char))
            throw new ValidationError('The JSON body has text after the closing ] of its array');
          break;
        case 'between':
          if (isSpace(char)) break;
          if (char === ']') {
            this.state = 'done';
            break;
          }
          if (this.expectComma) {
            if (char !== ',') throw syntax(`expected , or ] between events, found ${JSON.stringify(char)}`);
            this.expectComma = false;
            break;
          }
          if (char === ',') throw syntax('an event is missing between two commas');
          this.state = 'element';
          this.current = '';
          this.depth = 0;
          this.elementChar(char, out);
          break;
        case 'element':
          this.elementChar(char, out);
          break;
      }
    }
    return out;
  }

  end(): void {
    if (this.state !== 'done') throw syntax('the array is not closed with ]');
  }

  private elementChar(char: string, out: string[]): void {
    if (this.inString) {
      this.current += char;
      if (this.escaped) this.escaped = false;
      else if (char === '\\') this.escaped = true;
      else if (char === '"') this.inString = false;
    } else if (char === '"') {
      this.inString = true;
      this.current += char;
    } else if (char === '{' || char === '[') {
      this.depth++;
      this.current += char;
    } else if ((char === '}' || char === ']') && this.depth > 0) {
      this.depth--;
      this.current += char;
    } else if (this.depth === 0 && (char === ',' || char === ']')) {
      out.push(this.current);
      this.state = char === ']' ? 'done' : 'between';
      this.expectComma = false;
    } else if (this.depth === 0 && isSpace(char)) {
      out.push(this.current);
      this.state = 'between';
      this.expectComma = true;
    } else this.current += char;
    if (this.current.length > MAX_ROW_BYTES) {
      throw syntax(`an event is longer than ${MAX_ROW_BYTES / 1024} KiB`);
    }
  }
}

const isSpace = (char: string): boolean => char === ' ' || char === '\n' || char === '\r' || char === '\t';
const notAnArray = (): ValidationError =>
  new ValidationError(
    'A JSON body must be an array of events [{"userId":…,"eventType":…,"timestamp":…}, …]; ' +
      'send one event per line as application/x-ndjson instead',
  );
const syntax = (what: string): ValidationError =>
  new ValidationError(`The JSON array cannot be read: ${what}`);
