import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * One encoded answer of a read route, ready to send: the same value is written by the route's
 * Express handler and by the cached-read front (cachedReads.ts), so the two cannot drift apart.
 */
export interface Representation {
  /** Content-Type */
  type: string;
  body: Buffer;
  /** A strong ETag, quoted; each encoding of an answer has its own (RFC 9110). */
  etag: string;
  /** Content-Encoding, when the body is compressed */
  encoding?: 'gzip';
  /** Request headers the choice of this representation depended on */
  vary: readonly string[];
  /** Anything else to send (Content-Disposition) */
  headers?: Readonly<Record<string, string>>;
}

/**
 * Each answer's JSON (or other text) and ETag, made once: the query caches hand out the same
 * answer object while it is current, and under load serialising and hashing it per request was a
 * measurable share of the routes' time.
 */
const serialisedAnswers = new WeakMap<object, { body: Buffer; etag: string }>();

export function serialised<T extends object>(
  answer: T,
  text: (answer: T) => string = (a) => JSON.stringify(a),
): { body: Buffer; etag: string } {
  let done = serialisedAnswers.get(answer);
  if (done === undefined) {
    const body = Buffer.from(text(answer));
    done = { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
    serialisedAnswers.set(answer, done);
  }
  return done;
}

function withoutWeakPrefix(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/**
 * Whether the client's copy is current (RFC 9110 If-None-Match, weak comparison), as Express's
 * `req.fresh` decides it: `Cache-Control: no-cache` asks for the body anyway.
 */
export function clientHasCurrent(req: IncomingMessage, etag: string): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch === undefined) return false;
  const cacheControl = req.headers['cache-control'];
  if (cacheControl !== undefined && /(?:^|,)\s*no-cache\s*(?:,|$)/.test(cacheControl)) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const wanted = withoutWeakPrefix(etag);
  return ifNoneMatch.split(',').some((tag) => withoutWeakPrefix(tag.trim()) === wanted);
}

/** Adds `field` to the Vary header unless it is there already. */
function varyOn(res: ServerResponse, field: string): void {
  const current = res.getHeader('Vary');
  const fields = typeof current === 'string' ? current.split(',').map((f) => f.trim()) : [];
  if (fields.includes('*') || fields.some((f) => f.toLowerCase() === field.toLowerCase())) return;
  res.setHeader('Vary', [...fields.filter((f) => f !== ''), field].join(', '));
}

/** Sends it: 304 with no body when the client's ETag matches, no body to HEAD. */
export function writeRepresentation(req: IncomingMessage, res: ServerResponse, rep: Representation): void {
  for (const field of rep.vary) varyOn(res, field);
  for (const [name, value] of Object.entries(rep.headers ?? {})) res.setHeader(name, value);
  res.setHeader('ETag', rep.etag);
  if (clientHasCurrent(req, rep.etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.setHeader('Content-Type', rep.type);
  if (rep.encoding !== undefined) res.setHeader('Content-Encoding', rep.encoding);
  res.setHeader('Content-Length', rep.body.length);
  if (req.method === 'HEAD') res.end();
  else res.end(rep.body);
}
