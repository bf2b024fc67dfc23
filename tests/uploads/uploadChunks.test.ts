import { RAW_EVENT_CHUNKS_COLLECTION, type RawEventChunk } from '../../src/events/rawEventChunks';
import { readChunk } from '../../src/events/readChunks';
import { csvOfRows, rawEvents, uploadCsv } from '../support/uploads';
import { startTestService, type TestService } from '../support/testService';

/** An upload cuts the events it stored (and only those) into the chunks processing counts. */
describe('chunks written by an upload', () => {
  let service: TestService;
  const PER_CHUNK = 4;
  const db = () => service.runtime.mongo.db;
  const chunksOf = (batchId: string) =>
    db()
      .collection<RawEventChunk>(RAW_EVENT_CHUNKS_COLLECTION)
      .find({ batchId })
      .sort({ chunk: 1 })
      .toArray();

  beforeAll(async () => {
    service = await startTestService({ workers: false, env: { EVENTS_PER_CHUNK: String(PER_CHUNK) } });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('holds exactly the new events of the batch, in chunks of EVENTS_PER_CHUNK', async () => {
    const first = await uploadCsv(service.baseUrl, csvOfRows(5));
    expect(first.body).toMatchObject({ totalEvents: 5 });
    // Rows 3..13 overlap the first file on rows 3 and 4, and row 7 appears twice.
    const lines = csvOfRows(11, 3).trimEnd().split('\n');
    const csv = `${[...lines, lines[5]].join('\n')}\n`;
    const second = await uploadCsv(service.baseUrl, csv);
    expect(second.body).toMatchObject({ totalEvents: 9, duplicates: 3 });
    const batchId = second.body.batchId as string;

    const chunks = await chunksOf(batchId);
    expect(chunks.map((c) => [c.chunk, c.count])).toEqual([
      [0, 4],
      [1, 4],
      [2, 1],
    ]);
    await expectChunksHoldStoredEvents(batchId, chunks);
  });

  it('numbers every chunk once while several inserts of a big file are in flight', async () => {
    // 2,500 rows are three inserts, two of them in flight at once, each adding events to the
    // chunk writer while the other's chunk documents are still being written.
    const rows = 2500;
    const upload = await uploadCsv(service.baseUrl, csvOfRows(rows, 100));
    expect(upload.body).toMatchObject({ totalEvents: rows, duplicates: 0 });
    const batchId = upload.body.batchId as string;

    const chunks = await chunksOf(batchId);
    const chunkCount = Math.ceil(rows / PER_CHUNK);
    expect(chunks.map((c) => c.chunk)).toEqual(Array.from({ length: chunkCount }, (_, i) => i));
    expect(chunks.reduce((sum, c) => sum + c.count, 0)).toBe(rows);
    await expectChunksHoldStoredEvents(batchId, chunks);
  });

  /** What the chunks hold, read back as processing reads them, is exactly the batch's raw events. */
  async function expectChunksHoldStoredEvents(batchId: string, chunks: RawEventChunk[]) {
    const counted: string[] = [];
    for (const { chunk } of chunks) {
      for (const event of (await readChunk(db(), batchId, chunk))?.events ?? [])
        counted.push(JSON.stringify(event, (_, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v)));
    }
    const stored = await rawEvents(db()).find({ batchId }).toArray();
    expect(counted.sort()).toEqual(
      stored
        .map((e) =>
          JSON.stringify([
            e.eventType,
            e.timestamp.getTime(),
            service.runtime.userFingerprint(e.userId).toString(16),
          ]),
        )
        .sort(),
    );
  }
});
