import { connect } from 'node:net';
import { fetchElsewhere } from '../support/fetchElsewhere';
import { filePartHeader } from '../support/rawUpload';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

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
      // No wait for a slot: the 503 is what one test looks at.
      env: { MAX_UPLOAD_BYTES: String(LIMIT), MAX_CONCURRENT_UPLOADS: '1', UPLOAD_SLOT_WAIT_MS: '0' },
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

  it('a 503 while the upload slot is taken reaches fetch', async () => {
    // The one slot held by an upload that has sent its start and waits (well within the grace period).
    const { hostname, port } = new URL(service.baseUrl);
    const holder = connect(Number(port), hostname);
    holder.on('error', () => undefined);
    holder.write(
      'POST /api/uploads HTTP/1.1\r\nHost: ems\r\nContent-Type: multipart/form-data; boundary=ems-test-boundary\r\n' +
        `Content-Length: ${LIMIT / 2}\r\n\r\n`,
    );
    holder.write(filePartHeader());
    try {
      const reply = await waitFor(
        () => fetchElsewhere(`${service.baseUrl}/api/uploads`, BIG, 'form'),
        // A 413 means the holder has not got the slot yet; a failed fetch (0) is the bug.
        (r) => r.status === 503 || r.status === 0,
        30_000,
        'the slot to be taken',
      );
      expect(reply).toMatchObject({ status: 503, body: { error: 'ServiceBusy' } });
    } finally {
      holder.destroy();
    }
  });
});
