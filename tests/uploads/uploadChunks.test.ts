import { RAW_EVENT_CHUNKS_COLLECTION, readChunk, type RawEventChunk } from '../../src/events/rawEventChunks';
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
    service = await startTestService({ workers: false, env: { EVENTS_PER_JOB: String(PER_CHUNK) } });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('holds exactly the new events of the batch, in chunks of EVENTS_PER_JOB', async () => {
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
    const counted: string[] = [];
    for (const { chunk } of chunks) {
      for (const event of (await readChunk(db(), batchId, chunk)) ?? []) counted.push(JSON.stringify(event));
    }
    const stored = await rawEvents(db()).find({ batchId }).toArray();
    expect(counted.sort()).toEqual(
      stored.map((e) => JSON.stringify([e.eventType, e.timestamp.getTime()])).sort(),
    );
  });
});
