import { Transform, type TransformCallback } from 'node:stream';

const NEWLINE = 0x0a;

/**
 * Passes bytes through unchanged and answers "how many line feeds come before byte offset N",
 * for offsets that only move forward. csv-parse reports each record's end as a byte offset but
 * miscounts lines when a quoted field holds CRLF, so row numbers are counted here instead.
 * Memory stays bounded: chunks are dropped once the cursor has passed them.
 */
export class LineCounter extends Transform {
  private readonly pending: Buffer[] = [];
  /** Byte offset of the first byte of pending[0]. */
  private pendingStart = 0;
  /** Bytes of pending[0] already scanned. */
  private scannedInHead = 0;
  private newlines = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending.push(chunk);
    callback(null, chunk);
  }

  newlinesBefore(offset: number): number {
    for (;;) {
      const head = this.pending[0];
      if (head === undefined) return this.newlines;
      const stopAt = Math.min(head.length, offset - this.pendingStart);
      if (stopAt <= this.scannedInHead) return this.newlines;
      let at = head.indexOf(NEWLINE, this.scannedInHead);
      while (at !== -1 && at < stopAt) {
        this.newlines++;
        at = head.indexOf(NEWLINE, at + 1);
      }
      this.scannedInHead = stopAt;
      if (stopAt < head.length) return this.newlines;
      this.pending.shift();
      this.pendingStart += head.length;
      this.scannedInHead = 0;
    }
  }
}
