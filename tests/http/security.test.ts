import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import express from 'express';
import { correlationId } from '../../src/http/correlationId';
import { errorResponder, notFoundResponder } from '../../src/http/errorMapping';
import { corsAllowList } from '../../src/http/security';
import { createLogger } from '../../src/logging';
import { startTestService, type TestService } from '../support/testService';

const ALLOWED = 'https://dashboard.example';

describe('security headers, CORS, limits and error answers of the real app', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      env: {
        CORS_ORIGINS: `${ALLOWED}, https://other.example`,
        JSON_BODY_LIMIT_BYTES: '2048',
        MAX_HEADER_BYTES: '4096',
      },
    });
  });

  afterAll(async () => {
    await service.stop();
  });

  it('sends a strict CSP and the helmet headers, and no X-Powered-By', async () => {
    const res = await fetch(`${service.baseUrl}/health`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('answers CORS only for allowed origins', async () => {
    const allowed = await fetch(`${service.baseUrl}/health`, { headers: { Origin: ALLOWED } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(allowed.headers.get('access-control-expose-headers')).toContain('X-Correlation-ID');

    const other = await fetch(`${service.baseUrl}/health`, { headers: { Origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();

    const preflight = await fetch(`${service.baseUrl}/api/uploads`, {
      method: 'OPTIONS',
      headers: { Origin: ALLOWED, 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('X-API-Key');
  });

  it('answers 413 JSON with a correlation id for a JSON body over the limit', async () => {
    const res = await fetch(`${service.baseUrl}/health`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ padding: 'x'.repeat(4096) }),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('x-correlation-id')).toBeTruthy();
    expect(await res.json()).toEqual({ error: 'PayloadTooLarge', message: 'The request body is too large' });
  });

  it('answers 400 JSON for malformed JSON, without parser internals', async () => {
    const res = await fetch(`${service.baseUrl}/health`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"not json',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-correlation-id')).toBeTruthy();
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: 'ValidationError', message: 'The request body is not valid' });
    expect(text).not.toMatch(/at .*\.js|SyntaxError|Unexpected/);
  });

  it('answers 404 JSON with a correlation id for unknown routes and unknown Swagger UI files', async () => {
    for (const path of ['/api/nothing', '/api-docs/index.html']) {
      const res = await fetch(`${service.baseUrl}${path}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('x-correlation-id')).toBeTruthy();
      expect(await res.json()).toMatchObject({ error: 'NotFound' });
    }
  });

  it('refuses request headers over MAX_HEADER_BYTES with 431', async () => {
    const { port } = new URL(service.baseUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/health', headers: { 'X-Big': 'y'.repeat(8192) } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(431);
  });
});

describe('error mapping and CORS defaults on a bare app', () => {
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const app = express();
    app.use(correlationId);
    app.use(corsAllowList([]));
    app.get('/boom', () => {
      throw new Error('secret connection string mongodb://user:pw@db');
    });
    app.use(notFoundResponder);
    app.use(errorResponder(createLogger({ level: 'error', role: 'test', silent: true })));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => {
        resolve(s);
      });
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers an unexpected error with a plain 500: no stack, no internal message', async () => {
    const res = await fetch(`${base}/boom`);
    expect(res.status).toBe(500);
    expect(res.headers.get('x-correlation-id')).toBeTruthy();
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ error: 'InternalError', message: 'Something went wrong on our side' });
    expect(text).not.toContain('mongodb://');
    expect(text).not.toContain('.ts:');
  });

  it('sends no CORS headers when CORS_ORIGINS is empty', async () => {
    const res = await fetch(`${base}/boom`, { headers: { Origin: ALLOWED } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
