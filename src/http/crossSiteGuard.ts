import type { Request, RequestHandler } from 'express';
import { ForbiddenError } from '../errors';

/**
 * Refuses state-changing requests that a browser sends on behalf of a page on another site. A page
 * anywhere on the web can POST a multipart form or an empty body here without a CORS preflight
 * (`fetch(url, {method: 'POST', mode: 'no-cors', body})`): the answer is opaque to it, but the upload
 * or the processing has happened. Browsers say who is asking: Sec-Fetch-Site (all current ones)
 * and Origin (older ones, on POST). Our own web UI and Swagger UI are same-origin; origins listed in
 * CORS_ORIGINS are trusted; a request with neither header does not come from a browser page (curl,
 * scripts, other services), which no other site can make a visitor's browser send.
 */

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function isOwnOrigin(origin: string, req: Request): boolean {
  try {
    // req.host is the Host header, or X-Forwarded-Host when TRUST_PROXY says the proxy may set it.
    return new URL(origin).host === req.host;
  } catch {
    // `Origin: null` (sandboxed frames, file: pages, some redirects) names no origin at all.
    return false;
  }
}

function allowed(req: Request, trusted: ReadonlySet<string>): boolean {
  const origin = req.get('Origin');
  if (origin !== undefined && trusted.has(origin)) return true;
  const site = req.get('Sec-Fetch-Site');
  // `none`: the user started the request (typed a URL, a bookmark), not a page.
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  return origin === undefined || isOwnOrigin(origin, req);
}

export function refuseCrossSiteWrites(corsOrigins: readonly string[]): RequestHandler {
  const trusted = new Set(corsOrigins);
  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method) || allowed(req, trusted)) {
      next();
      return;
    }
    const from = req.get('Origin');
    const page =
      from === undefined || from === 'null' ? 'a page on another site' : `a page on ${from} (another site)`;
    next(
      new ForbiddenError(
        `Refused: ${page} may not send ${req.method} requests to this service. ` +
          'To allow a site you trust, add its origin to CORS_ORIGINS.',
      ),
    );
  };
}
