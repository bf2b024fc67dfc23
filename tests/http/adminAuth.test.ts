import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { requireAdminApiKey } from '../../src/http/adminAuth';
import { correlationId } from '../../src/http/correlationId';
import { errorResponder } from '../../src/http/errorMapping';
import { createLogger } from '../../src/logging';
import { TEST_ADMIN_KEY } from '../support/testConfig';

describe('requireAdminApiKey', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const app = express();
    app.use(correlationId);
    app.get('/admin', requireAdminApiKey(TEST_ADMIN_KEY), (_req, res) => {
      res.json({ ok: true });
    });
    app.use(errorResponder(createLogger({ level: 'error', role: 'test', silent: true })));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => {
        resolve(s);
      });
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('lets the right key through', async () => {
    const res = await fetch(url, { headers: { 'X-API-Key': TEST_ADMIN_KEY } });
    expect(res.status).toBe(200);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['wrong', 'x'.repeat(TEST_ADMIN_KEY.length)],
    ['a prefix of the key', TEST_ADMIN_KEY.slice(0, -1)],
    ['longer than the key', `${TEST_ADMIN_KEY}0`],
  ])('answers 401 JSON when the key is %s', async (_label, key) => {
    const res = await fetch(url, { headers: key === undefined ? {} : { 'X-API-Key': key } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'Unauthorized' });
  });
});
