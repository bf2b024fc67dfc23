import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Multipart uploads written by hand onto the socket, for what fetch cannot do: a body far larger
 * than what the server should read, a body sent slowly, or a body that stops half-way.
 */

const BOUNDARY = 'ems-test-boundary';

export function filePartHeader(fileName = 'events.csv'): Buffer {
  return Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\n` +
      'Content-Type: text/csv\r\n\r\n',
  );
}

export const multipartEnd = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);

export interface StreamedReply {
  status: number;
  body: Record<string, unknown>;
  /** Body bytes written onto the socket before the answer came or the socket closed. */
  sent: number;
}

export interface StreamOptions {
  /** Sent as Content-Length when given; otherwise the body goes chunked. */
  contentLength?: number;
  /** Pause between pieces, in ms (0: as fast as the socket takes them). */
  pauseMs?: number;
  /** Another route and body type than a multipart upload (e.g. /api/events, application/x-ndjson). */
  path?: string;
  contentType?: string;
}

/**
 * POSTs `pieces` to /api/uploads one after the other and resolves with the answer. Stops writing as
 * soon as an answer arrives, so `sent` says how much the server had to take before it answered.
 */
export function streamUpload(
  baseUrl: string,
  pieces: Iterable<Buffer>,
  options: StreamOptions = {},
): Promise<StreamedReply> {
  const { hostname, port } = new URL(baseUrl);
  const headers: Record<string, string | number> = {
    'Content-Type': options.contentType ?? `multipart/form-data; boundary=${BOUNDARY}`,
  };
  if (options.contentLength !== undefined) headers['Content-Length'] = options.contentLength;
  return new Promise((resolve, reject) => {
    let sent = 0;
    // An object, not a `let`: the compiler cannot see the response callback change it.
    const state = { answered: false };
    const req = request(
      { host: hostname, port, method: 'POST', path: options.path ?? '/api/uploads', headers },
      (res) => {
        state.answered = true;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: Record<string, unknown>;
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            body = { raw: text };
          }
          resolve({ status: res.statusCode ?? 0, body, sent });
        });
        res.on('error', reject);
      },
    );
    // Writing after the server answered and closed fails; the answer is what the test looks at.
    req.on('error', (error) => {
      if (!state.answered) reject(error);
    });
    void (async () => {
      for (const piece of pieces) {
        if (state.answered || req.destroyed) return;
        sent += piece.length;
        if (!req.write(piece)) await new Promise((r) => req.once('drain', r));
        if (options.pauseMs) await sleep(options.pauseMs);
      }
      if (!state.answered && !req.destroyed) req.end();
    })().catch(reject);
  });
}

/** `count` pieces of `size` bytes of `byte`, made lazily. */
export function* repeated(byte: string, size: number, count: number): Generator<Buffer> {
  const piece = Buffer.alloc(size, byte);
  for (let i = 0; i < count; i++) yield piece;
}
