import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router, type RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * The web UI: `GET /` serves index.html, `/ui/*` its scripts and styles. Plain files, no build step.
 * `tsc` copies no non-TS files, so from dist/http the files are found in src/http/public of the
 * project root (dist/ and src/ sit at the same depth); a deployment that copies public/ next to the
 * compiled file wins.
 */
export function defaultPublicDir(): string {
  const besideModule = path.join(__dirname, 'public');
  if (existsSync(path.join(besideModule, 'index.html'))) return besideModule;
  return path.resolve(__dirname, '..', '..', 'src', 'http', 'public');
}

const ASSET_MAX_AGE_SECONDS = 300;

// Strict: only our own origin, no inline script, no inline style attributes, no plugins, no framing.
const strictCsp = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'"],
    connectSrc: ["'self'"],
    fontSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
});

const noSniff: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
};

export function webUiRouter(publicDir: string = defaultPublicDir()): Router {
  const router = Router();
  const indexFile = path.join(publicDir, 'index.html');

  // index.html names the asset URLs, so browsers revalidate it every time (cheap with the ETag).
  router.get(['/', '/index.html'], strictCsp, noSniff, (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(indexFile, { etag: true, lastModified: true, cacheControl: false }, (err) => {
      if (err) next(err);
    });
  });

  router.use(
    '/ui',
    strictCsp,
    noSniff,
    express.static(publicDir, {
      index: false,
      etag: true,
      lastModified: true,
      maxAge: ASSET_MAX_AGE_SECONDS * 1000,
      fallthrough: true,
    }),
  );
  return router;
}
