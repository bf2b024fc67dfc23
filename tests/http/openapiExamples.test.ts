import { connect } from 'node:net';
import { buildOpenApi } from '../../src/compose';
import { errorExamples } from '../../src/http/openapi/examples';
import { damageChunk } from '../support/damageChunk';
import { createResponseValidator } from '../support/openapi';
import {
  documentedExamples,
  exampleRequests,
  prefilledOptionalInputs,
  withExampleVolatiles,
} from '../support/openapiExamples';
import { startPrivateRedis, type PrivateServer } from '../support/privateServers';
import { filePartHeader, streamUpload } from '../support/rawUpload';
import { projectionsCaughtUp } from '../support/recount';
import { TEST_ADMIN_KEY } from '../support/testConfig';
import { startTestService, type TestService } from '../support/testService';
import { uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/** The upload example's file: 4 rows, the last repeating the first, so 3 new events and 1 duplicate. */
const EVENTS_CSV = [
  'userId,eventType,timestamp,metadata',
  'u1,click,2024-01-15T10:00:00Z,"{""page"":""/home""}"',
  'u2,click,2024-01-15T11:30:00+01:00,',
  'u3,purchase,2024-01-15T12:00:00Z,"{""amount"":19.99}"',
  'u1,click,2024-01-15T10:00:00.000Z,',
].join('\n');
const BAD_CSV =
  'userId,eventType,timestamp\nu1,click,2024-01-15T10:00:00Z\nu2,click,yesterday\n,view,2024-01-15T12:00:00Z\n';

interface Reply {
  status: number;
  body: unknown;
}

const doc = buildOpenApi();
const examples = documentedExamples(doc);
const admin = { 'X-API-Key': TEST_ADMIN_KEY };

/** Every example Swagger UI shows must be an answer the running service really gives. */
describe('OpenAPI examples', () => {
  let service: TestService;
  let redis: PrivateServer;
  let outage: TestService;
  let redisStopped = false;
  const seen = new Map<string, Reply>();

  const call = async (
    base: string,
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: string,
  ) => {
    const res = await fetch(`${base}${path}`, { method, headers, body });
    const text = await res.text();
    return {
      status: res.status,
      body: res.headers.get('content-type')?.includes('json') ? (JSON.parse(text) as unknown) : text,
    };
  };
  const record = (key: string, reply: Reply): Reply => {
    seen.set(key, reply);
    return reply;
  };

  beforeAll(async () => {
    // Default settings, which the examples describe, but for what tests need to observe quickly.
    // A short rate window, so that the trickled body below is cut (408) in seconds.
    service = await startTestService({
      env: { UPLOAD_RATE_LIMIT: '10', HTTP_BODY_RATE_WINDOW_MS: '1000' },
    });
    redis = await startPrivateRedis();
    outage = await startTestService({ env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    // A failure half-way must not leave the outage service's Redis down: stopping it would hang.
    if (redisStopped) await redis.start();
    await Promise.all([service.stop(), outage.stop()]);
    await redis.destroy();
  });

  it('exist for every answer with a body, and are valid against their own schemas', () => {
    // Without one, Swagger UI makes an example up from the schema ("ValidationError" under a 413).
    const missing = examples
      .filter(({ key, example }) => key !== 'GET /openapi.json 200' && example === undefined)
      .map(({ key }) => key);
    expect(missing).toEqual([]);
    const validator = createResponseValidator(doc);
    const invalid = examples.flatMap(({ key, contentType, example }) => {
      if (contentType !== 'application/json' || example === undefined) return [];
      const [method = '', path = '', status = ''] = key.split(' ');
      return validator
        .problems({ method, path, status: Number(status), body: example })
        .map((problem) => `${key}: ${problem}`);
    });
    expect(invalid).toEqual([]);
  });

  it('are the answers the service gives', async () => {
    const base = service.baseUrl;
    const uploaded = record('POST /api/uploads 201', await uploadCsv(base, EVENTS_CSV));
    const batchId = (uploaded.body as { batchId: string }).batchId;
    record('POST /api/uploads 400', await uploadCsv(base, BAD_CSV));
    record(
      'POST /api/uploads 403',
      await (async () => {
        const form = new FormData();
        form.append('file', new Blob([EVENTS_CSV]), 'events.csv');
        const res = await fetch(`${base}/api/uploads`, {
          method: 'POST',
          body: form,
          headers: { Origin: 'https://elsewhere.example' },
        });
        return { status: res.status, body: await res.json() };
      })(),
    );
    const tooLarge = await streamUpload(base, [filePartHeader()], { contentLength: 20 * 1024 * 1024 });
    record('POST /api/uploads 413', { status: tooLarge.status, body: tooLarge.body });

    record('POST /api/batches/{id}/process 202', await call(base, 'POST', `/api/batches/${batchId}/process`));
    await waitFor(
      async () => ((await call(base, 'GET', `/api/batches/${batchId}`)).body as { status: string }).status,
      (status) => status === 'completed',
      60_000,
      'example batch completed',
    );
    await projectionsCaughtUp(service.runtime.mongo.db, service.runtime.eventLog);
    record('POST /api/batches/{id}/process 200', await call(base, 'POST', `/api/batches/${batchId}/process`));
    record('GET /api/batches/{id} 200', await call(base, 'GET', `/api/batches/${batchId}`));
    record('GET /api/batches 200', await call(base, 'GET', '/api/batches'));
    record(
      'GET /api/batches/{id} 404',
      await call(base, 'GET', '/api/batches/3f1c2a9e-7b4d-4e8a-9c1f-2d3e4f5a6b7c'),
    );
    record('GET /api/metrics 200', await call(base, 'GET', '/api/metrics?date=2024-01-15'));
    record('GET /api/metrics 400', await call(base, 'GET', '/api/metrics?date=2024-13-01'));
    record(
      'GET /api/metrics/series 200',
      await call(base, 'GET', '/api/metrics/series?from=2024-01-14&to=2024-01-16&tz=Asia/Kolkata'),
    );
    record(
      'GET /api/metrics/series 400',
      await call(base, 'GET', '/api/metrics/series?from=2024-01-14&to=2024-01-16&tz=Mars/Olympus'),
    );
    record('GET /health 200', await call(base, 'GET', '/health'));
    record('GET /api/queues/{name}/dlq 401', await call(base, 'GET', '/api/queues/event-processing/dlq'));

    // POST /api/events, after the batch list above (its batch would be listed there).
    const sendEvents = async (body: string, type = 'application/x-ndjson') => {
      const res = await fetch(`${base}/api/events`, {
        method: 'POST',
        headers: { 'content-type': type },
        body,
      });
      return { status: res.status, body: await res.json() };
    };
    record(
      'POST /api/events 201',
      await sendEvents(
        '{"userId":"u4","eventType":"click","timestamp":"2024-01-15T13:00:00Z","metadata":{"page":"/home"}}\n' +
          '{"userId":"u5","eventType":"view","timestamp":1705327200}\n' +
          '{"userId":"u4","eventType":"click","timestamp":1705323600000}\n',
      ),
    );
    record(
      'POST /api/events 400',
      await sendEvents(
        JSON.stringify([
          { userId: 'u6', eventType: 'click', timestamp: '2024-01-15T10:00:00Z' },
          { userId: 'u7', eventType: 'click', timestamp: '2024-01-15 10:00:00' },
          { userId: 42, eventType: 'click', timestamp: '2024-01-15T10:00:00Z' },
        ]),
        'application/json',
      ),
    );
    record('POST /api/events 415', await sendEvents('userId,eventType,timestamp\n', 'text/csv'));
    const eventsTooLarge = await streamUpload(base, [Buffer.from('{}\n')], {
      path: '/api/events',
      contentType: 'application/x-ndjson',
      contentLength: 20 * 1024 * 1024,
    });
    record('POST /api/events 413', { status: eventsTooLarge.status, body: eventsTooLarge.body });

    for (const path of ['/api/uploads', '/api/events']) {
      record(`POST ${path} 408`, await trickle(base, path));
    }

    // A second batch whose only chunk cannot be counted, for the dead-letter queue.
    const broken = await uploadCsv(base, EVENTS_CSV.replace(/^u(\d),/gm, 'x$1,'));
    expect(broken).toMatchObject({ status: 201, body: { totalEvents: 3 } });
    const brokenId = (broken.body as { batchId: string }).batchId;
    const repair = await damageChunk(service.runtime.mongo.db, brokenId, 0);
    await call(base, 'POST', `/api/batches/${brokenId}/process`);
    await waitFor(
      async () =>
        (
          (await call(base, 'GET', '/api/queues/event-processing/dlq', admin)).body as {
            failedJobs: unknown[];
          }
        ).failedJobs.length,
      (n) => n === 1,
      60_000,
      'a job in the DLQ',
    );
    record(
      'GET /api/queues/{name}/dlq 200',
      await call(base, 'GET', '/api/queues/event-processing/dlq', admin),
    );
    await repair();
    record(
      'POST /api/queues/{name}/dlq/retry 200',
      await call(base, 'POST', '/api/queues/event-processing/dlq/retry', admin),
    );

    // Last: the accepted uploads above count against the 10 a minute (refused files do not).
    let limited: Reply = { status: 0, body: null };
    for (let i = 0; i < 12 && limited.status !== 429; i++) limited = await uploadCsv(base, EVENTS_CSV);
    record('POST /api/uploads 429', limited);

    // The outage service: one batch processed, then its Redis stopped.
    const outageBatch = await uploadCsv(outage.baseUrl, EVENTS_CSV);
    await call(
      outage.baseUrl,
      'POST',
      `/api/batches/${(outageBatch.body as { batchId: string }).batchId}/process`,
    );
    await projectionsCaughtUp(outage.runtime.mongo.db, outage.runtime.eventLog);
    await waitFor(
      async () =>
        ((await call(outage.baseUrl, 'GET', '/health')).body as { projections: unknown[] }).projections
          .length,
      (n) => n === 3,
      60_000,
      'every projection checkpointed',
    );
    // Closed first: BullMQ workers whose Redis went away and came back did not always close again.
    await outage.workers?.close();
    await redis.stop();
    redisStopped = true;
    record(
      'GET /health 503',
      await waitFor(
        () => call(outage.baseUrl, 'GET', '/health'),
        (r) => (r.body as { checks: { redis: string } }).checks.redis === 'unavailable',
        30_000,
        'health to see Redis gone',
      ),
    );
    record(
      'GET /api/queues/{name}/dlq 503',
      await call(outage.baseUrl, 'GET', '/api/queues/event-processing/dlq', admin),
    );
    await redis.start();
    redisStopped = false;

    // An erasure of the example files' user u1, whose one stored event is a click of 2024-01-15.
    const erased = await fetch(`${base}/api/users/erase`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u1' }),
    });
    record('POST /api/users/erase 200', { status: erased.status, body: await erased.json() });
    // Last, so every example above shows the batch live: the example batch retracted, then refused.
    record(
      'POST /api/batches/{id}/retract 200',
      await call(
        base,
        'POST',
        `/api/batches/${batchId}/retract`,
        {
          ...admin,
          'content-type': 'application/json',
        },
        JSON.stringify({ reason: 'Uploaded with the wrong timezone' }),
      ),
    );
    record('POST /api/batches/{id}/process 409', await call(base, 'POST', `/api/batches/${batchId}/process`));

    const metricsText = await call(base, 'GET', '/metrics');
    expect(metricsText.body).toMatch(/^ems_uploads_total\{result="accepted"\} \d+$/m);

    // Every distinct example has at least one route and status that showed it for real.
    const byExample = new Map<string, string[]>();
    for (const { key, contentType, example } of examples) {
      // A missing example fails the test above; here each example shown is checked.
      if (contentType !== 'application/json' || key === 'GET /openapi.json 200' || example === undefined) {
        continue;
      }
      const id = JSON.stringify(example);
      byExample.set(id, [...(byExample.get(id) ?? []), key]);
    }
    for (const [id, keys] of byExample) {
      const example: unknown = JSON.parse(id);
      const key = keys.find((k) => seen.has(k));
      expect({ keys, provoked: key !== undefined }).toEqual({ keys, provoked: true });
      const reply = seen.get(key ?? '');
      const [, , status] = (key ?? '').split(' ');
      let real = withExampleVolatiles(reply?.body, example);
      if (key?.endsWith(' 408') === true) {
        const rate = /arrived at \d+ bytes\/s/.exec((example as { message: string }).message)?.[0] ?? '';
        real = {
          ...(real as object),
          message: (real as { message: string }).message.replace(/arrived at \d+ bytes\/s/, rate),
        };
      }
      if (key === 'POST /api/uploads 429') {
        const wait = (example as { retryAfter: number }).retryAfter;
        real = {
          ...(real as object),
          message: (real as { message: string }).message.replace(/Retry in \d+ s\./, `Retry in ${wait} s.`),
        };
      }
      expect({ key, status: reply?.status, body: real }).toEqual({
        key,
        status: Number(status),
        body: example,
      });
    }
  }, 180_000);
});

/**
 * What try-it-out sends when a person presses Execute and changes nothing: the document's request
 * examples, as Swagger UI writes them (tests/e2e/apiDocsBrowser.test.ts checks that in the real
 * Swagger UI for the upload, the series and the events).
 */
describe('OpenAPI request examples', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ workers: false });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('leave every optional input empty, so try-it-out sends none of them', () => {
    expect(prefilledOptionalInputs(doc)).toEqual([]);
  });

  it('each succeed when sent as Swagger UI sends them', async () => {
    const requests = exampleRequests(doc);
    // The three the issue named are among them.
    expect(requests.map((r) => r.key)).toEqual(
      expect.arrayContaining([
        'GET /api/metrics/series',
        'POST /api/events application/x-ndjson',
        'POST /api/events application/json',
      ]),
    );
    const answers: string[] = [];
    for (const request of requests) {
      const res = await fetch(`${service.baseUrl}${request.url}`, {
        method: request.method,
        headers: {
          ...(request.contentType === undefined ? {} : { 'content-type': request.contentType }),
          ...(request.admin ? admin : {}),
        },
        ...(request.body === undefined ? {} : { body: request.body }),
      });
      const text = await res.text();
      // The example batch id is made up: its documented answer is the 404 that names it.
      const madeUpBatch =
        res.status === 404 &&
        (text === JSON.stringify(errorExamples.NotFound) || request.key === 'GET /api/users/erasures/{id}');
      answers.push(`${request.key}: ${res.ok || madeUpBatch ? 'ok' : `${res.status} ${text.slice(0, 300)}`}`);
    }
    expect(answers).toEqual(requests.map((r) => `${r.key}: ok`));
  }, 120_000);
});

/** A request whose body stops after a few bytes: the server cuts it with 408 once a rate window has passed. */
function trickle(base: string, path: string): Promise<Reply> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0);
      resolve({ status, body: body === '' ? null : (JSON.parse(body) as unknown) });
    });
    const type = path === '/api/events' ? 'application/x-ndjson' : 'multipart/form-data; boundary=b';
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: ${type}\r\n` +
        'Content-Length: 100000\r\nConnection: close\r\n\r\n--b\r\n',
    );
  });
}
