import { dirname, join } from 'node:path';
import { Router } from 'express';
import { NotFoundError } from '../errors';
import { documentedRoute, mount } from './openapi/routeTable';

/**
 * GET /openapi.json and Swagger UI at /api-docs, served so it runs under our strict CSP
 * (script-src and style-src 'self'): the page is plain HTML, Swagger UI's own files come from
 * swagger-ui-dist, and the start-up code is a script file of ours. Not swagger-ui-express: its page
 * carries inline <style> blocks and style attributes (its template and `customCss`), which that
 * CSP refuses; its start-up script is a file too, so scripts were never the conflict.
 */

const ASSETS = new Set([
  'swagger-ui.css',
  'index.css',
  'swagger-ui-bundle.js',
  'favicon-16x16.png',
  'favicon-32x32.png',
]);

const PAGE = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Event Metrics Service API</title>
    <link rel="stylesheet" href="/api-docs/swagger-ui.css">
    <link rel="stylesheet" href="/api-docs/index.css">
    <link rel="icon" type="image/png" href="/api-docs/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/api-docs/swagger-ui-bundle.js"></script>
    <script src="/api-docs/swagger-initializer.js"></script>
  </body>
</html>
`;

// validatorUrl null: the default would send our document to a third-party validator (and break CSP).
// BaseLayout, not StandaloneLayout: the standalone top bar only adds a URL box and a logo whose inline
// <style> our CSP (style-src 'self') refuses.
// NdjsonAsText: Swagger UI writes a string sample of any media type matching /json/ as a JSON string,
// so the ndjson example would go out in quotes (and be refused); newline-delimited JSON is text.
const INITIALIZER = `function NdjsonAsText() {
  return {
    afterLoad: function (system) {
      var samples = system.fn.jsonSchema202012;
      var jsonSample = samples.getJsonSampleSchema;
      samples.getJsonSampleSchema = function (schema, config, contentType, example) {
        if (/ndjson/.test(contentType) && typeof example === 'string') return example;
        return jsonSample(schema, config, contentType, example);
      };
    },
  };
}
window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [NdjsonAsText],
    layout: 'BaseLayout',
  });
});
`;

export const apiDocsRoutes = {
  readOpenApiDocument: documentedRoute({
    method: 'get',
    path: '/openapi.json',
    tags: ['Operations'],
    summary: 'This OpenAPI document',
    responses: {
      200: {
        description: 'OpenAPI 3.1 document',
        content: { 'application/json': { schema: { type: 'object' } } },
      },
    },
  }),
};

/** Routes of this router that are the documentation itself, so the OpenAPI document leaves them out. */
export const API_DOCS_UI_ROUTES = ['/api-docs', '/api-docs/swagger-initializer.js', '/api-docs/:asset'];

export function apiDocsRouter(document: object): Router {
  const assetDir = dirname(require.resolve('swagger-ui-dist/package.json'));
  const json = JSON.stringify(document);
  const router = Router();

  mount(router, apiDocsRoutes.readOpenApiDocument, (_req, res) => {
    res.type('application/json').send(json);
  });
  router.get('/api-docs', (_req, res) => {
    res.type('html').send(PAGE);
  });
  router.get('/api-docs/swagger-initializer.js', (_req, res) => {
    res.type('application/javascript').send(INITIALIZER);
  });
  router.get('/api-docs/:asset', (req, res, next) => {
    const asset = req.params.asset;
    if (!ASSETS.has(asset)) {
      next(new NotFoundError(`No route for ${req.method} ${req.path}`));
      return;
    }
    res.sendFile(join(assetDir, asset), { maxAge: '1h' }, (error?: Error) => {
      if (error) next(error);
    });
  });
  return router;
}
