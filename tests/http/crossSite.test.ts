import { expectDocumented } from '../support/openapi';
import { rawEvents, csvOfRows } from '../support/uploads';
import { startTestService, type TestService } from '../support/testService';

const LISTED = 'https://dashboard.example';

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

/**
 * A page on another origin can POST a multipart form or a bodiless request without any CORS
 * preflight (`fetch(url, {method: 'POST', mode: 'no-cors', body: formData})`); browsers name the
 * page in Origin and Sec-Fetch-Site. Those writes are refused; our own pages, origins listed in
 * CORS_ORIGINS and clients that are not browsers (no such headers) go through.
 */
describe('state-changing requests from other sites', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { CORS_ORIGINS: LISTED } });
  });
  afterAll(async () => {
    await service.stop();
  });

  async function upload(headers: Record<string, string>): Promise<Reply> {
    const form = new FormData();
    form.append('file', new Blob([csvOfRows(2, Math.floor(Math.random() * 1e9))]), 'events.csv');
    const res = await fetch(`${service.baseUrl}/api/uploads`, { method: 'POST', body: form, headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function processCall(batchId: string, headers: Record<string, string>): Promise<Reply> {
    const res = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST', headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('refuses uploads and process calls sent by a page on a foreign origin, with 403 and nothing stored', async () => {
    const stored = await upload({});
    expect(stored.status).toBe(201);
    const batchId = stored.body.batchId as string;
    const before = await rawEvents(service.runtime.mongo.db).countDocuments({});

    const foreign: Record<string, string>[] = [
      { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
      { Origin: 'https://evil.example' },
      { 'Sec-Fetch-Site': 'cross-site' },
      { Origin: 'https://sub.dashboard.example', 'Sec-Fetch-Site': 'same-site' },
      { Origin: 'null' },
    ];
    for (const headers of foreign) {
      const replies = {
        'POST /api/uploads': await upload(headers),
        'POST /api/batches/{id}/process': await processCall(batchId, headers),
      };
      for (const [route, reply] of Object.entries(replies)) {
        expect({ headers, status: reply.status }).toEqual({ headers, status: 403 });
        expectDocumented(route, reply);
        expect(reply.body).toEqual({
          error: 'Forbidden',
          message: expect.stringMatching(/another site.*CORS_ORIGINS/) as string,
        });
      }
    }
    expect(await rawEvents(service.runtime.mongo.db).countDocuments({})).toBe(before);
    const history = await service.runtime.eventLog.readStream(`batch:${batchId}`);
    expect(history.map((r) => r.type)).toEqual(['BatchUploaded']);
  });

  it('lets through our own pages, listed origins, reads from anywhere, and clients that are not browsers', async () => {
    const own = new URL(service.baseUrl).origin;
    const allowed: Record<string, string>[] = [
      {},
      { 'Sec-Fetch-Site': 'same-origin', Origin: own },
      { Origin: own },
      { 'Sec-Fetch-Site': 'none' },
      { Origin: LISTED, 'Sec-Fetch-Site': 'cross-site' },
    ];
    for (const headers of allowed) {
      const reply = await upload(headers);
      expect({ headers, status: reply.status }).toEqual({ headers, status: 201 });
      const processed = await processCall(reply.body.batchId as string, headers);
      expect({ headers, status: processed.status }).toEqual({ headers, status: 202 });
    }
    const read = await fetch(`${service.baseUrl}/api/batches`, {
      headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(read.status).toBe(200);
  });
});
