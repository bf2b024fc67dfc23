import { expectDocumented } from '../support/openapi';
import { startTestService, type TestService } from '../support/testService';
import { csvOfRows, rawEvents } from '../support/uploads';

/** UPLOAD_RATE_LIMIT on the real POST /api/uploads, counted in the real Redis. */

const LIMIT = 2;

/** The raw answer to an upload of `csv`, headers and all. */
function postCsv(baseUrl: string, csv: string): Promise<Response> {
  const form = new FormData();
  form.append('file', new Blob([csv], { type: 'text/csv' }), 'events.csv');
  return fetch(`${baseUrl}/api/uploads`, { method: 'POST', body: form });
}

describe('POST /api/uploads over UPLOAD_RATE_LIMIT', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { UPLOAD_RATE_LIMIT: String(LIMIT) } });
  });

  afterAll(async () => {
    await service.stop();
  });

  const post = (csv: string) => postCsv(service.baseUrl, csv);

  it('accepts the limit, then answers 429 with Retry-After and RateLimit headers and stores nothing', async () => {
    for (let i = 0; i < LIMIT; i++) {
      const res = await post(csvOfRows(2, i * 2));
      expect(res.status).toBe(201);
      await res.json();
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"uploads"; ?r=${LIMIT - 1 - i}; ?t=\\d+$`));
      expect(res.headers.get('ratelimit-policy')).toMatch(new RegExp(`^"uploads"; ?q=${LIMIT}; ?w=60`));
    }
    const stored = await rawEvents(service.runtime.mongo.db).countDocuments({});
    expect(stored).toBe(LIMIT * 2);

    const refused = await post(csvOfRows(2, 100));
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit')).toMatch(/^"uploads"; ?r=0; ?t=\d+$/);
    expect(refused.headers.get('x-correlation-id')).toBeTruthy();
    const body = (await refused.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'TooManyRequests', retryAfter });
    expectDocumented('POST /api/uploads', { status: refused.status, body });
    expect(await rawEvents(service.runtime.mongo.db).countDocuments({})).toBe(stored);

    // The limiter runs before the body is read: an invalid file over the limit is refused the same way.
    const invalid = await post('not,a,csv\n');
    expect(invalid.status).toBe(429);
    await invalid.text();
  });
});

describe('POST /api/uploads: files refused for validation', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { UPLOAD_RATE_LIMIT: String(LIMIT) } });
  });

  afterAll(async () => {
    await service.stop();
  });

  const post = (csv: string) => postCsv(service.baseUrl, csv);
  const invalid = 'userId,eventType,timestamp\nu1,click,yesterday\n';

  it('do not use up the accepted-upload budget, and have a bound of their own ten times higher', async () => {
    // A user fixing a file: several refusals, then the fixed file is accepted.
    for (let i = 0; i < LIMIT + 3; i++) {
      const res = await post(invalid);
      expect(res.status).toBe(400);
      await res.json();
    }
    const fixed = await post(csvOfRows(2, 0));
    expect(fixed.status).toBe(201);
    await fixed.json();

    // Every attempt counts against the higher budget: 10 x LIMIT a minute, refused files included.
    const attemptsSoFar = LIMIT + 4;
    for (let i = attemptsSoFar; i < LIMIT * 10; i++) {
      const res = await post(invalid);
      expect(res.status).toBe(400);
      await res.json();
    }
    const refused = await post(invalid);
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'TooManyRequests' });
    expect(String(body.message)).toMatch(/upload attempts/);
    expectDocumented('POST /api/uploads', { status: refused.status, body });
  });
});
