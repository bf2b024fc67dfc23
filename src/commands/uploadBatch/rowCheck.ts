import { setImmediate as nextTurn } from 'node:timers/promises';
import { InvalidRowsError } from '../../errors';
import type { RowError } from './validateRow';

/** How many row errors a rejection lists; checking stops once that many are known. */
export const MAX_LISTED_ERRORS = 100;

/**
 * Rows checked between two turns of the event loop. A body whose bytes have all arrived is
 * otherwise checked in one go, and nothing else the process serves (health, reads) gets a turn.
 */
const ROWS_PER_TURN = 200;

/**
 * The errors of one upload's rows as they are checked. Once MAX_LISTED_ERRORS are known the upload
 * is refused whatever the rest holds, so the reader stops checking (`enough`) and says so.
 */
export class RowCheck {
  /** The first MAX_LISTED_ERRORS errors. */
  readonly listed: RowError[] = [];
  /** All errors found so far. */
  count = 0;
  private rowsThisTurn = 0;

  add(errors: RowError[]): void {
    this.count += errors.length;
    for (const e of errors) if (this.listed.length < MAX_LISTED_ERRORS) this.listed.push(e);
  }

  get failed(): boolean {
    return this.count > 0;
  }

  get enough(): boolean {
    return this.count >= MAX_LISTED_ERRORS;
  }

  /** Called once per row: every ROWS_PER_TURN rows, lets the event loop run. */
  async pace(): Promise<void> {
    if (++this.rowsThisTurn < ROWS_PER_TURN) return;
    this.rowsThisTurn = 0;
    await nextTurn();
  }

  /**
   * The refusal: `whole` names what was sent ("file", "body"), `rows` what it holds ("rows",
   * "events"), `checked` how many of them were checked when checking stopped early.
   */
  refusal(whole: string, rows: string, checked?: number): InvalidRowsError {
    const values = `${this.count} invalid value${this.count === 1 ? '' : 's'}`;
    if (checked === undefined) {
      return new InvalidRowsError(`The ${whole} has ${values}; nothing was stored`, this.listed, this.count);
    }
    return new InvalidRowsError(
      `The ${whole} has ${values} in its first ${checked} ${rows}; the rest of the ${whole} was not checked. ` +
        'Nothing was stored',
      this.listed,
      this.count,
      true,
    );
  }
}
