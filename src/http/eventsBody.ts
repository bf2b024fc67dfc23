import { pipeline, Readable, type Transform } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import type { Request } from 'express';
import { ByteCap } from '../commands/uploadBatch/compressed';
import type { EventsFormat } from '../commands/uploadBatch/parseEvents';
import { echoed } from '../commands/uploadBatch/validateRow';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors';
import { describeBytes } from './uploadSizeCap';

/**
 * How POST /api/events reads its body: the format from Content-Type (UTF-8 only), the decoder
 * from Content-Encoding, and MAX_UPLOAD_BYTES on the bytes as sent and as decompressed.
 */

export const EVENTS_PATH = '/api/events';

const MEDIA_TYPES: Record<string, EventsFormat> = {
  'application/x-ndjson': 'ndjson',
  'application/json': 'array',
};

/** us-ascii text is UTF-8 text too. */
const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

const DECODERS: Record<string, () => Transform | undefined> = {
  identity: () => undefined,
  gzip: () => createGunzip(),
  'x-gzip': () => createGunzip(),
  deflate: () => createInflate(),
};

export function bodyTooLarge(maxBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `The body is larger than the upload limit of ${describeBytes(maxBytes)} (MAX_UPLOAD_BYTES); ` +
      'send the events in smaller requests',
  );
}

export function formatOf(req: Request): EventsFormat {
  const [first, ...parameters] = (req.get('content-type') ?? '').split(';');
  const type = first?.trim().toLowerCase() ?? '';
  const format = MEDIA_TYPES[type];
  if (format === undefined) {
    throw new UnsupportedMediaTypeError(
      `POST ${EVENTS_PATH} reads application/x-ndjson (one event per line) or application/json (an array of events), ` +
        `not ${type === '' ? 'a body without Content-Type' : echoed(type)}; upload a CSV to POST /api/uploads`,
    );
  }
  for (const parameter of parameters) {
    const [name, value = ''] = parameter.split('=');
    if (name?.trim().toLowerCase() !== 'charset') continue;
    const charset = value
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (!UTF8_CHARSETS.has(charset)) {
      throw new UnsupportedMediaTypeError(
        `POST ${EVENTS_PATH} reads UTF-8 text only, not charset=${echoed(charset)}; send the body as UTF-8 (charset=utf-8)`,
      );
    }
  }
  return format;
}

/** A fresh decoder for the body's Content-Encoding. */
export function decoderOf(req: Request): () => Transform | undefined {
  const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
  const decoder = DECODERS[encoding];
  if (decoder === undefined) {
    throw new UnsupportedMediaTypeError(
      `POST ${EVENTS_PATH} reads a body sent as is or with Content-Encoding gzip or deflate, not ${echoed(encoding)}`,
    );
  }
  return decoder;
}

/**
 * The body's bytes as the events reader takes them: capped as they arrive and, when compressed,
 * decompressed and capped again, so MAX_UPLOAD_BYTES bounds what a small compressed body expands to.
 */
export function bodyOf(req: Request, decoder: () => Transform | undefined, maxBytes: number): Readable {
  const wire = Readable.from(capped(req, maxBytes));
  const decode = decoder();
  if (decode === undefined) return wire;
  return pipeline(wire, decode, new ByteCap(maxBytes, () => bodyTooLarge(maxBytes)), () => undefined);
}

/** Counts the body's bytes as they are read and fails past the cap. */
async function* capped(req: Request, maxBytes: number): AsyncGenerator<Buffer> {
  let seen = 0;
  // Not destroyed when reading stops early (over the cap, or refused): destroying the request
  // resets the connection before the client can read the answer; the server lingers instead.
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    const bytes = chunk as Buffer;
    seen += bytes.length;
    if (seen > maxBytes) throw bodyTooLarge(maxBytes);
    yield bytes;
  }
}
