import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Security headers. The CSP allows only our own origin: no inline scripts anywhere (Swagger UI is
 * started by a served file, see apiDocs.ts), no third-party hosts, no framing. `style-src` keeps no
 * 'unsafe-inline' either; Swagger UI sets styles through the CSSOM, which CSP does not restrict.
 * upgrade-insecure-requests is off because the service is often reached over plain HTTP on a LAN
 * or localhost, where it would break every asset; TLS is the reverse proxy's job.
 */
function helmetHeaders() {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        connectSrc: ["'self'"],
        fontSrc: ["'self'", 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        imgSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        workerSrc: ["'self'", 'blob:'],
      },
    },
    crossOriginEmbedderPolicy: false,
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/**
 * The headers helmet sets, worked out once: with these options they are the same for every
 * answer, and setting a list is cheaper per request than running helmet's fourteen middlewares.
 * The cached-read front (cachedReads.ts) sends the same list.
 */
export function securityHeaderList(): readonly (readonly [string, string])[] {
  const res = new ServerResponse(new IncomingMessage(new Socket()));
  // Bad options throw when helmet is configured; the middleware itself only sets headers.
  helmetHeaders()(res.req, res, () => undefined);
  return Object.entries(res.getHeaders()).map(([name, value]) => [name, String(value)] as const);
}

export function securityHeaders(): RequestHandler {
  const headers = securityHeaderList();
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}

const ALLOWED_METHODS = 'GET,POST,OPTIONS';
const ALLOWED_HEADERS = 'Content-Type,X-API-Key,X-Correlation-ID';
const EXPOSED_HEADERS = 'X-Correlation-ID,RateLimit,RateLimit-Policy,Retry-After';

/**
 * CORS for an explicit allow-list of origins; with an empty list no CORS header is ever sent, so
 * browsers keep the same-origin policy. Credentials are not allowed: the API uses no cookies.
 */
export function corsAllowList(origins: readonly string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.get('Origin');
    if (allowed.size === 0 || origin === undefined) {
      next();
      return;
    }
    res.vary('Origin');
    if (!allowed.has(origin)) {
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    if (req.method === 'OPTIONS' && req.get('Access-Control-Request-Method') !== undefined) {
      res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
