import type { Request } from 'express';
import { PayloadTooLargeError } from '../errors';

/**
 * MAX_UPLOAD_BYTES as a bound on what an upload makes the server read. multer stops storing a file
 * at its size limit, but it answers an error only once the client has sent the whole body (so the
 * client does not see a reset), and after an early CSV error it went on reading and discarding
 * everything (a 64 MiB file of zeros was read to its last byte). So the route answers 413 once the
 * file or the body passes the cap, with `Connection: close`; the server then drops what the client
 * still sends for a bounded while only (lingering close, http/server).
 */

/** Room for the multipart envelope around the file: part headers, boundaries, the few small fields. */
const ENVELOPE_BYTES = 1024 * 1024;

export function describeBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

export function uploadTooLarge(maxBytes: number, how?: string): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `The file is larger than the upload limit of ${describeBytes(maxBytes)} (MAX_UPLOAD_BYTES)` +
      `${how === undefined ? '' : ` ${how}`}; ` +
      'split it into smaller files and upload them one at a time',
  );
}

/**
 * Calls `refuse` (once) as soon as the request's body is known to be over the cap: at once when its
 * Content-Length says so, else when the bytes read so far pass it. Returns false when it refused
 * at once, so the caller reads nothing.
 */
export function watchBodySize(req: Request, maxBytes: number, refuse: () => void): boolean {
  const cap = maxBytes + ENVELOPE_BYTES;
  const declared = Number(req.get('Content-Length') ?? 0);
  if (declared > cap) {
    refuse();
    return false;
  }
  let received = 0;
  const count = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > cap) {
      req.off('data', count);
      refuse();
    }
  };
  // Only counts: the body's reader (multer) is attached in the same tick, before any data flows.
  req.on('data', count);
  return true;
}
