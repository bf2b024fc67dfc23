import { multipartEnd, streamUpload } from '../support/rawUpload';
import { startTestService, type TestService } from '../support/testService';
import { csvOfRows } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/** A file part whose Content-Disposition is written as given (UTF-8 bytes on the wire). */
function partHeader(disposition: string): Buffer {
  return Buffer.from(
    `--ems-test-boundary\r\nContent-Disposition: form-data; name="file"; ${disposition}\r\n` +
      'Content-Type: text/csv\r\n\r\n',
    'utf8',
  );
}

interface StoredBatch {
  batchId: string;
  fileName: string;
}

/** The file name the batch holds, as GET /api/batches/{id} and the batch list (the web UI's source) say it. */
async function storedNames(baseUrl: string, batchId: string): Promise<string[]> {
  const one = (await (await fetch(`${baseUrl}/api/batches/${batchId}`)).json()) as StoredBatch;
  // The list is a read model: the batch appears once the projection has caught up.
  const listed = await waitFor(
    async () => {
      const list = (await (await fetch(`${baseUrl}/api/batches`)).json()) as { batches: StoredBatch[] };
      return list.batches.find((batch) => batch.batchId === batchId);
    },
    (batch) => batch !== undefined,
    60_000,
    'the batch to be listed',
  );
  return [one.fileName, listed?.fileName ?? 'not listed'];
}

describe('the file name of an upload', () => {
  let service: TestService;
  let rows = 0;

  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(async () => {
    await service.stop();
  });

  async function upload(disposition: string): Promise<string[]> {
    // New rows each time, so every upload makes a batch of its own.
    const csv = csvOfRows(3, rows);
    rows += 3;
    const reply = await streamUpload(service.baseUrl, [
      partHeader(disposition),
      Buffer.from(csv),
      multipartEnd,
    ]);
    expect(reply.status).toBe(201);
    return storedNames(service.baseUrl, String(reply.body.batchId));
  }

  it('keeps a UTF-8 name as written', async () => {
    expect(await upload('filename="Übersicht März.csv"')).toEqual([
      'Übersicht März.csv',
      'Übersicht März.csv',
    ]);
  });

  it("reads an RFC 5987 filename* (UTF-8'') and prefers it", async () => {
    expect(await upload(`filename="Ubersicht.csv"; filename*=UTF-8''%C3%9Cbersicht%20%E2%82%AC.csv`)).toEqual(
      ['Übersicht €.csv', 'Übersicht €.csv'],
    );
  });

  it('writes text-direction and zero-width characters as \\uXXXX, so the name shows as it is', async () => {
    // U+202E would show "invoice\u202Evsc.exe" as "invoiceexe.csv".
    const names = await upload('filename="invoice\u202Evsc.exe\u200B.csv"');
    expect(names).toEqual(['invoice\\u202Evsc.exe\\u200B.csv', 'invoice\\u202Evsc.exe\\u200B.csv']);
  });
});
