import type { AddressInfo } from 'node:net';
import express from 'express';
import { DependencyUnavailableError, ServiceBusyError } from '../../../src/errors';
import { errorResponder } from '../../../src/http/errorMapping';
import { createLogger } from '../../../src/logging';

/** A 503 for load is logged as load; only a dependency that is down is logged as one. */

type Line = Record<string, unknown>;

describe('503 log lines', () => {
  const lines: Line[] = [];
  const logger = createLogger({ level: 'info', role: 'test' });
  let server: ReturnType<ReturnType<typeof express>['listen']>;
  let baseUrl = '';

  beforeAll(async () => {
    for (const transport of logger.transports) transport.silent = true;
    logger.on('data', (entry: Line) => lines.push(entry));
    const app = express();
    app.get('/busy', () => {
      throw new ServiceBusyError('This server is already handling 4 uploads; retry in 5 s', 5);
    });
    app.get('/down', () => {
      throw new DependencyUnavailableError('mongo');
    });
    app.use(errorResponder(logger));
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('says "service busy" with the reason for ServiceBusy, and "dependency unavailable" for an outage', async () => {
    expect((await fetch(`${baseUrl}/busy`)).status).toBe(503);
    expect((await fetch(`${baseUrl}/down`)).status).toBe(503);
    const busy = lines.find((l) => l['path'] === '/busy');
    const down = lines.find((l) => l['path'] === '/down');
    expect(busy).toMatchObject({
      level: 'warn',
      message: 'service busy',
      reason: 'This server is already handling 4 uploads; retry in 5 s',
    });
    expect(down).toMatchObject({ level: 'warn', message: 'dependency unavailable' });
  });
});
