import { startTestService, type TestService } from '../support/testService';
import { filePartHeader, multipartEnd, repeated, streamUpload } from '../support/rawUpload';
import { rawEvents, uploadCsv } from '../support/uploads';

const LIMIT = 256 * 1024;
const PIECE = 64 * 1024;
/** 64 MiB: 256 times the limit. */
const PIECES = 1024;

/** MAX_UPLOAD_BYTES is a bound on what the server reads, whatever the file holds. */
describe('the upload size cap', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { MAX_UPLOAD_BYTES: String(LIMIT) } });
  });
  afterAll(async () => {
    await service.stop();
  });

  const limitMessage = /larger than the upload limit of 256 KiB \(MAX_UPLOAD_BYTES\)/;

  it('stops reading a file at the cap even after the parser gave up on it (a file of zeros)', async () => {
    // One endless "row": the parser fails at 64 KiB, long before the cap.
    const reply = await streamUpload(service.baseUrl, [
      filePartHeader('zeros.csv'),
      ...repeated('0', PIECE, PIECES),
      multipartEnd,
    ]);
    expect(reply).toMatchObject({ status: 413, body: { error: 'PayloadTooLarge' } });
    expect(reply.body.message).toMatch(limitMessage);
    // Answered while the client still had most of its 64 MiB to send.
    expect(reply.sent).toBeLessThan((PIECES * PIECE) / 2);
    expect(await rawEvents(service.runtime.mongo.db).countDocuments({})).toBe(0);
  });

  it('stops reading a valid CSV at the cap, and says the limit', async () => {
    const line = 'u1,click,2024-01-15T10:00:00Z\n';
    const rows = Buffer.from(line.repeat(Math.floor(PIECE / line.length)));
    const reply = await streamUpload(service.baseUrl, [
      filePartHeader(),
      Buffer.from('userId,eventType,timestamp\n'),
      ...Array.from({ length: PIECES }, () => rows),
      multipartEnd,
    ]);
    expect(reply.status).toBe(413);
    expect(reply.body.message).toMatch(limitMessage);
    expect(reply.sent).toBeLessThan((PIECES * rows.length) / 2);
    expect(await rawEvents(service.runtime.mongo.db).countDocuments({})).toBe(0);
  });

  it('refuses a declared Content-Length far over the cap before reading the body', async () => {
    const declared = 300 * 1024 * 1024;
    const reply = await streamUpload(service.baseUrl, [filePartHeader(), ...repeated('0', PIECE, 8)], {
      contentLength: declared,
    });
    expect(reply.status).toBe(413);
    expect(reply.body.message).toMatch(limitMessage);
  });

  it('still answers 400 with the row errors for a broken file under the cap', async () => {
    const reply = await uploadCsv(service.baseUrl, `userId,eventType,timestamp\n${'0'.repeat(70 * 1024)}\n`);
    expect(reply.status).toBe(400);
    expect(reply.body.message).toMatch(/64 KiB/);
  });
});
