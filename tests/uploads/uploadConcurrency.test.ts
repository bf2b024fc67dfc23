import { request } from 'node:http';
import { startTestService, type TestService } from '../support/testService';
import { csvOfRows, uploadCsv } from '../support/uploads';

/** MAX_CONCURRENT_UPLOADS: the next upload is refused with 503 and Retry-After, not left to fail later. */
describe('uploads over the concurrency cap', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { MAX_CONCURRENT_UPLOADS: '1' } });
  });
  afterAll(async () => {
    await service.stop();
  });

  /** Starts a multipart upload and sends all but its end, so the server holds it open. */
  function openUpload(csv: string): { finish(): Promise<{ status: number; body: string }> } {
    const boundary = 'ems-test-boundary';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.csv"\r\nContent-Type: text/csv\r\n\r\n`;
    const tail = `\r\n--${boundary}--\r\n`;
    const { port } = new URL(service.baseUrl);
    let pending: () => void = () => undefined;
    const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: Number(port),
          path: '/api/uploads',
          method: 'POST',
          headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body });
          });
        },
      );
      req.on('error', reject);
      req.write(head + csv);
      pending = () => {
        req.end(tail);
      };
    });
    return {
      finish() {
        pending();
        return reply;
      },
    };
  }

  it('answers 503 ServiceBusy with Retry-After while another upload is in flight, then accepts again', async () => {
    const slow = openUpload(csvOfRows(20));
    // The slow upload counts from the moment its request arrived; wait until the server has it.
    let refused = await uploadCsv(service.baseUrl, csvOfRows(5, 1000));
    for (let i = 0; i < 100 && refused.status === 201; i++) {
      await new Promise((r) => setTimeout(r, 50));
      refused = await uploadCsv(service.baseUrl, csvOfRows(5, 2000 + i * 10));
    }
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: 'ServiceBusy' });
    expect(String(refused.body.message)).toMatch(/retry in \d+ s/);

    const done = await slow.finish();
    expect(done.status).toBe(201);
    const after = await uploadCsv(service.baseUrl, csvOfRows(5, 5000));
    expect(after.status).toBe(201);
  });
});
