import type { RowProblem } from '../../errors';
import type { RowError } from './validateRow';

/**
 * The row errors of an upload summarised per kind of problem, so that one systematic mistake (every
 * timestamp without a zone) reads as one line with its count and first rows, not a hundred copies.
 * A timestamp problem is one kind whatever its value; any other error is one kind per field and
 * message.
 */

/** Rows each kind lists; kinds beyond MAX_KINDS are counted in one last line. */
const ROWS_PER_KIND = 5;
const MAX_KINDS = 20;

interface Tally {
  field: string;
  kind: RowError['kind'];
  message: string;
  count: number;
  rows: number[];
}

const count = (n: number): string => n.toLocaleString('en-US');

/** The one line for a kind: `quantity` is "all 3,000" or "12". */
function line(tally: Tally, quantity: string, one: boolean): string {
  switch (tally.kind) {
    case 'noZone':
      return `${quantity} timestamp${one ? ' has' : 's have'} no zone: name it with the timezone option (Time zone in the web UI), e.g. timezone=Europe/Berlin`;
    case 'overlap':
      return `${quantity} timestamp${one ? ' falls' : 's fall'} in the hour a daylight saving time change repeats: choose ambiguous=earlier or ambiguous=later, or write ${one ? 'it' : 'them'} with an offset`;
    case 'gap':
      return `${quantity} timestamp${one ? ' falls' : 's fall'} in the hour a daylight saving time change skips, so ${one ? 'it does' : 'they do'} not exist there: write ${one ? 'it' : 'them'} with an offset if right`;
    case 'form':
      return `${quantity} timestamp${one ? ' is' : 's are'} in none of the forms read (ISO 8601, epoch seconds or milliseconds): declare ${one ? 'its' : 'their'} form with the timestampFormat option, e.g. timestampFormat=DD.MM.YYYY HH:mm`;
    default:
      return `${quantity} row${one ? '' : 's'}: ${tally.message}`;
  }
}

export class ProblemTally {
  private readonly kinds = new Map<string, Tally>();
  private others = 0;

  add(error: RowError): void {
    const key = error.kind ?? `${error.field}\u0000${error.message}`;
    let tally = this.kinds.get(key);
    if (tally === undefined) {
      if (this.kinds.size >= MAX_KINDS) {
        this.others++;
        return;
      }
      tally = { field: error.field, kind: error.kind, message: error.message, count: 0, rows: [] };
      this.kinds.set(key, tally);
    }
    tally.count++;
    if (tally.rows.length < ROWS_PER_KIND && !tally.rows.includes(error.row)) tally.rows.push(error.row);
  }

  /** The lines, most frequent first; `rows` is how many rows were checked, when all of them were. */
  summary(rows?: number): RowProblem[] {
    const lines = [...this.kinds.values()]
      .sort((a, b) => b.count - a.count)
      .map((tally) => {
        const quantity = tally.count === rows && rows > 1 ? `all ${count(rows)}` : count(tally.count);
        return {
          field: tally.field,
          count: tally.count,
          rows: tally.rows,
          message: line(tally, quantity, tally.count === 1),
        };
      });
    if (this.others > 0) {
      const message = `${count(this.others)} more problem${this.others === 1 ? '' : 's'} of other kinds`;
      lines.push({ field: '*', count: this.others, rows: [], message });
    }
    return lines;
  }
}
