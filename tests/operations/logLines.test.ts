import { request } from 'node:http';
import { buildProjectors } from '../../src/compose';
import { allProjections } from '../../src/projections/allProjections';
import { rebuildProjections } from '../../src/projections/rebuild';
import { damageChunk } from '../support/damageChunk';
import { startTestService, type TestService } from '../support/testService';
import { uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/** What operators read in the logs: why a request was refused, and one line per settled batch. */

type Line = Record<string, unknown>;

describe('operation log lines', () => {
  let service: TestService;
  const lines: Line[] = [];
  // The logger is an object-mode stream of the formatted entries it passes to its transports.
  const collect = (entry: Line): void => {
    lines.push(entry);
  };

  beforeAll(async () => {
    service = await startTestService({ env: { EVENTS_PER_CHUNK: '2' } });
    // Tests run at LOG_LEVEL=error; these lines are info. The console stays as quiet as before.
    for (const transport of service.runtime.logger.transports) transport.silent = true;
    service.runtime.logger.level = 'info';
    service.runtime.logger.on('data', collect);
  });
  afterAll(async () => {
    service.runtime.logger.off('data', collect);
    await service.stop();
  });

  const named = (message: string) => lines.filter((l) => l['message'] === message);
  const post = async (path: string) => {
    const res = await fetch(`${service.baseUrl}${path}`, { method: 'POST' });
    return res.status;
  };
  const batch = async (batchId: string) =>
    (await (await fetch(`${service.baseUrl}/api/batches/${batchId}`)).json()) as Record<string, unknown>;

  it('names the error code, the message and the file of a rejected upload', async () => {
    const reply = await uploadCsv(service.baseUrl, 'userId,eventType,timestamp\nu1,click,yesterday\n', {
      fileName: 'refused-export.csv',
    });
    expect(reply.status).toBe(400);
    const rejected = await waitFor(
      () => Promise.resolve(named('request rejected')),
      (found) => found.length > 0,
      10_000,
      'rejection logged',
    );
    expect(rejected[0]).toMatchObject({
      path: '/api/uploads',
      status: 400,
      code: 'ValidationError',
      reason: reply.body.message,
      errorCount: 1,
      fileName: 'refused-export.csv',
    });
  });

  it('logs one line when a batch completes, with counts, days and duration, and none when rebuilt', async () => {
    const csv =
      'userId,eventType,timestamp\n' +
      'u1,click,2024-03-01T10:00:00Z\nu2,click,2024-03-02T10:00:00Z\nu3,view,2024-03-04T23:59:59Z\n';
    const reply = await uploadCsv(service.baseUrl, csv, { fileName: 'march.csv' });
    expect(reply.status).toBe(201);
    const batchId = String(reply.body.batchId);
    expect(await post(`/api/batches/${batchId}/process`)).toBe(202);
    await waitFor(
      () => batch(batchId),
      (b) => b.status === 'completed',
      30_000,
      'batch completed',
    );
    const mine = () => named('batch completed').filter((l) => l['batchId'] === batchId);
    await waitFor(
      () => Promise.resolve(mine()),
      (found) => found.length > 0,
      10_000,
      'completion logged',
    );
    expect(mine()).toHaveLength(1);
    const [line] = mine();
    expect(line).toMatchObject({
      fileName: 'march.csv',
      totalEvents: 3,
      processedEvents: 3,
      firstDay: '2024-03-01',
      lastDay: '2024-03-04',
    });
    expect(typeof line?.['durationMs']).toBe('number');
    expect(Number(line?.['durationMs'])).toBeGreaterThanOrEqual(0);

    // A rebuild replays the whole log: it must not announce the batch again.
    await rebuildProjections(
      {
        db: service.runtime.mongo.db,
        eventLog: service.runtime.eventLog,
        redis: service.runtime.redis,
        prefix: service.config.redis.prefix,
        logger: service.runtime.logger,
      },
      allProjections(),
    );
    for (const catchUp of buildProjectors(service.runtime)) await catchUp();
    expect(mine()).toHaveLength(1);
    expect(await batch(batchId)).toMatchObject({ firstDay: '2024-03-01', lastDay: '2024-03-04' });
  });

  it('logs one line when a batch fails', async () => {
    const csv =
      'userId,eventType,timestamp\n' +
      'f1,click,2024-04-01T10:00:00Z\nf2,click,2024-04-01T11:00:00Z\n' +
      'f3,click,2024-04-01T12:00:00Z\nf4,click,2024-04-01T13:00:00Z\n';
    const reply = await uploadCsv(service.baseUrl, csv, { fileName: 'broken.csv' });
    expect(reply.status).toBe(201);
    const batchId = String(reply.body.batchId);
    await damageChunk(service.runtime.mongo.db, batchId, 1);
    expect(await post(`/api/batches/${batchId}/process`)).toBe(202);
    await waitFor(
      () => batch(batchId),
      (b) => b.status === 'failed',
      60_000,
      'batch failed',
    );
    const mine = () => named('batch failed').filter((l) => l['batchId'] === batchId);
    await waitFor(
      () => Promise.resolve(mine()),
      (found) => found.length > 0,
      10_000,
      'failure logged',
    );
    expect(mine()).toHaveLength(1);
    expect(mine()[0]).toMatchObject({ fileName: 'broken.csv', totalEvents: 4 });
    expect(mine()[0]?.['failedReason']).toMatch(/Chunk 1 of this batch/);
  });

  it('logs a body the client abandoned as abandoned, not as a failed request', async () => {
    const { port } = new URL(service.baseUrl);
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/api/events',
      headers: { 'Content-Type': 'application/x-ndjson', 'Content-Length': '100000' },
    });
    req.on('error', () => undefined);
    req.write('{"userId":"u1","eventType":"click","timestamp":"2024-01-15T10:00:00Z"}\n');
    const abandoned = () => named('request abandoned by the client');
    // Part of the body is sent, then the client goes away.
    await new Promise((resolve) => setTimeout(resolve, 500));
    req.destroy();
    await waitFor(
      () => Promise.resolve(abandoned()),
      (found) => found.length > 0,
      20_000,
      'abandoned request logged',
    );
    expect(abandoned()[0]).toMatchObject({ method: 'POST', path: '/api/events' });
    expect(lines.filter((l) => l['message'] === 'request failed')).toEqual([]);
  });
});
