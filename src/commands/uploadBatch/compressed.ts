import { Transform, type TransformCallback } from 'node:stream';

/** What compressed uploads share: a cap on what they expand to, and zlib's errors told apart. */

/** Fails once more than `maxBytes` have passed: the cap on what a compressed file expands to. */
export class ByteCap extends Transform {
  private seen = 0;
  constructor(
    private readonly maxBytes: number,
    private readonly tooLarge: () => Error,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.maxBytes) callback(this.tooLarge());
    else callback(null, chunk);
  }
}

/**
 * zlib's complaint about a broken gzip stream. Checked by shape, not `instanceof Error`: errors
 * made by Node's core come from another realm under Jest's VM context.
 */
export function isZlibError(error: unknown): error is { code: string; message: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string' &&
    error.code.startsWith('Z_') &&
    'message' in error &&
    typeof error.message === 'string'
  );
}
