import { request } from 'node:http';
import { startTestService, type TestService } from '../support/testService';
import { sample } from '../support/prometheus';
import { csvOfRows, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * MAX_CONCURRENT_UPLOADS: an upload that finds every slot taken waits for one, first come first
 * served, and gets 503 with Retry-After only after UPLOAD_SLOT_WAIT_MS.
 */
describe.each([
  ['waits for a slot', '600000'],
  ['gives up waiting', '300'],
])('uploads over the concurrency cap: %s', (_name, waitMs) => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      // The upload holding the slot stalls on purpose for as long as the test takes: neither the
      // minimum body rate nor the idle timeout may cut it on a slow machine.
      env: {
        MAX_CONCURRENT_UPLOADS: '1',
        UPLOAD_SLOT_WAIT_MS: waitMs,
        HTTP_MIN_BODY_BYTES_PER_SECOND: '0',
        HTTP_IDLE_TIMEOUT_MS: '600000',
      },
    });
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

  const slots = async (state: 'busy' | 'waiting'): Promise<number | undefined> =>
    sample(await (await fetch(`${service.baseUrl}/metrics`)).text(), `ems_upload_slots{state="${state}"}`);

  /** An upload that holds the one slot until finished (its request has reached the server). */
  async function holdSlot(): Promise<ReturnType<typeof openUpload>> {
    const slow = openUpload(csvOfRows(20));
    await waitFor(
      () => slots('busy'),
      (busy) => busy === 1,
      30_000,
      'the slow upload to take the slot',
    );
    return slow;
  }

  if (waitMs === '600000') {
    it('the next upload waits, and stores once the slot is free; one whose client left does not keep it', async () => {
      const slow = await holdSlot();
      // A client that gives up while waiting leaves the queue: it must not take the slot for good.
      const gaveUp = new AbortController();
      const abandoned = uploadCsv(service.baseUrl, csvOfRows(5, 1000), { signal: gaveUp.signal }).catch(
        () => 'aborted',
      );
      await waitFor(
        () => slots('waiting'),
        (waiting) => waiting === 1,
        30_000,
        'the first to wait',
      );
      let waitedDone = false;
      const waited = uploadCsv(service.baseUrl, csvOfRows(5, 2000)).finally(() => {
        waitedDone = true;
      });
      await waitFor(
        () => slots('waiting'),
        (waiting) => waiting === 2,
        30_000,
        'the second to wait',
      );
      gaveUp.abort();
      expect(await abandoned).toBe('aborted');
      await waitFor(
        () => slots('waiting'),
        (waiting) => waiting === 1,
        30_000,
        'the first to leave',
      );
      expect(waitedDone).toBe(false);

      expect((await slow.finish()).status).toBe(201);
      expect(await waited).toMatchObject({ status: 201, body: { totalEvents: 5 } });
      const after = await uploadCsv(service.baseUrl, csvOfRows(5, 5000));
      expect(after).toMatchObject({ status: 201, body: { totalEvents: 5 } });
    }, 180_000);
  } else {
    it('answers 503 ServiceBusy with Retry-After once it waited UPLOAD_SLOT_WAIT_MS, then accepts again', async () => {
      const slow = await holdSlot();
      const refused = await uploadCsv(service.baseUrl, csvOfRows(5, 1000));
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: 'ServiceBusy' });
      expect(await slots('waiting')).toBe(0);
      expect(String(refused.body.message)).toMatch(/retry in \d+ s/);

      expect((await slow.finish()).status).toBe(201);
      const after = await uploadCsv(service.baseUrl, csvOfRows(5, 5000));
      expect(after.status).toBe(201);
    }, 180_000);
  }
});
