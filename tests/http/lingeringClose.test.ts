import { fetchElsewhere } from '../support/fetchElsewhere';
import { startTestService, type TestService } from '../support/testService';

const LIMIT = 1024 * 1024;
/** Over the limit and its multipart envelope (1 MiB), like the 11 MiB file against 10 MiB. */
const BIG = 3 * 1024 * 1024;

/**
 * An answer sent before the body was read reaches clients that, like Node's fetch and browsers,
 * read it only once they have sent the body: the server goes on reading and dropping the body for
 * a while instead of closing the connection under them.
 */
describe('answers sent before the body was read', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      env: { MAX_UPLOAD_BYTES: String(LIMIT) },
    });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('a 413 for an upload over the cap reaches fetch with its message', async () => {
    for (let i = 0; i < 3; i++) {
      const reply = await fetchElsewhere(`${service.baseUrl}/api/uploads`, BIG, 'form');
      expect(reply).toMatchObject({ status: 413, body: { error: 'PayloadTooLarge' } });
      expect(reply.body.message).toMatch(/upload limit of 1 MiB/);
    }
  });

  it('a 413 found only while reading a chunked upload reaches fetch', async () => {
    const reply = await fetchElsewhere(`${service.baseUrl}/api/uploads`, BIG, 'chunked', {
      contentType: 'multipart/form-data; boundary=ems-test-boundary',
    });
    expect(reply).toMatchObject({ status: 413, body: { error: 'PayloadTooLarge' } });
  });

  it('a 413 for a POST /api/events body over the cap reaches fetch', async () => {
    for (const how of ['length', 'chunked'] as const) {
      const reply = await fetchElsewhere(`${service.baseUrl}/api/events`, BIG, how, {
        contentType: 'application/x-ndjson',
        prefix: '{"userId":"u1","eventType":"click","timestamp":"2024-01-15T10:00:00Z"}\n',
        // Blank lines: valid and nothing to store, so the body is read on until the cap.
        fill: '\n',
      });
      expect(reply).toMatchObject({ status: 413, body: { error: 'PayloadTooLarge' } });
    }
  });
});
