import { setImmediate as nextTurn } from 'node:timers/promises';
import { InvalidRowsError, type RowProblem } from '../../errors';
import { ProblemTally } from './problemSummary';
import type { RowError } from './validateRow';

/** How many row errors a rejection (or a skip report) lists; strict checking stops once that many are known. */
export const MAX_LISTED_ERRORS = 100;

/**
 * Rows checked between two turns of the event loop. A body whose bytes have all arrived is
 * otherwise checked in one go, and nothing else the process serves (health, reads) gets a turn.
 */
const ROWS_PER_TURN = 200;

/** The rows an upload with `invalidRows=skip` left out, as its 201 answer reports them. */
export interface SkipReport {
  skippedRows: number;
  skipped: RowError[];
  problems: RowProblem[];
}

/**
 * The errors of one upload's rows as they are checked. Strict (the default), once
 * MAX_LISTED_ERRORS are known the upload is refused whatever the rest holds, so the reader stops
 * checking (`enough`) and says so. With `skip`, a row with errors is left out and checking goes on.
 */
export class RowCheck {
  /** The first MAX_LISTED_ERRORS errors. */
  readonly listed: RowError[] = [];
  /** All errors found so far. */
  count = 0;
  /** Rows with at least one error. */
  badRows = 0;
  private readonly tally = new ProblemTally();
  /** Rows checked so far (each one paced). */
  private rows = 0;
  private rowsThisTurn = 0;

  constructor(private readonly skip = false) {}

  /** The errors of one row. */
  add(errors: RowError[]): void {
    this.badRows++;
    this.count += errors.length;
    for (const { kind, ...error } of errors) {
      this.tally.add({ ...error, kind });
      if (this.listed.length < MAX_LISTED_ERRORS) this.listed.push(error);
    }
  }

  /** True when the upload is refused: strict, and a row had an error. */
  get failed(): boolean {
    return !this.skip && this.count > 0;
  }

  get enough(): boolean {
    return !this.skip && this.count >= MAX_LISTED_ERRORS;
  }

  /** Called once per row: every ROWS_PER_TURN rows, lets the event loop run. */
  async pace(): Promise<void> {
    this.rows++;
    if (++this.rowsThisTurn < ROWS_PER_TURN) return;
    this.rowsThisTurn = 0;
    await nextTurn();
  }

  /** What a skipping upload reports, or undefined when it is strict. */
  report(): SkipReport | undefined {
    if (!this.skip) return undefined;
    return { skippedRows: this.badRows, skipped: this.listed, problems: this.tally.summary(this.rows) };
  }

  /** True when a skipping upload has rows and every one of them had an error. */
  get nothingValid(): boolean {
    return this.skip && this.rows > 0 && this.badRows === this.rows;
  }

  /**
   * The refusal: `whole` names what was sent ("file", "body"), `rows` what it holds ("rows",
   * "events"), `checked` how many of them were checked when checking stopped early.
   */
  refusal(whole: string, rows: string, checked?: number): InvalidRowsError {
    const values = `${this.count} invalid value${this.count === 1 ? '' : 's'}`;
    if (this.skip) {
      return new InvalidRowsError(
        `Every ${rows.slice(0, -1)} of the ${whole} is invalid (${values}); nothing was stored`,
        this.listed,
        this.count,
        false,
        this.tally.summary(this.rows),
      );
    }
    if (checked === undefined) {
      return new InvalidRowsError(
        `The ${whole} has ${values}; nothing was stored`,
        this.listed,
        this.count,
        false,
        this.tally.summary(this.rows),
      );
    }
    return new InvalidRowsError(
      `The ${whole} has ${values} in its first ${checked} ${rows}; the rest of the ${whole} was not checked. ` +
        'Nothing was stored',
      this.listed,
      this.count,
      true,
      this.tally.summary(),
    );
  }
}
