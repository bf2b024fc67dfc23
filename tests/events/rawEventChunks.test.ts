import fc from 'fast-check';
import { Binary, MongoClient, type Db } from 'mongodb';
import { ChunkWriter } from '../../src/events/chunkWriter';
import {
  RAW_EVENT_CHUNKS_COLLECTION,
  type CountableEvent,
  type RawEventChunk,
} from '../../src/events/rawEventChunks';
import { readChunk } from '../../src/events/readChunks';
import { uniqueName } from '../support/testConfig';

const uri = process.env.TEST_MONGODB_URI ?? '';

/** Chunk documents keep events as binary fields: what a writer stores, a job reads back unchanged. */
describe('raw event chunks', () => {
  let client: MongoClient;
  let db: Db;
  let batch = 0;

  beforeAll(async () => {
    client = await new MongoClient(uri).connect();
    db = client.db(uniqueName('chunks'));
  });

  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });

  async function readAll(batchId: string, chunks: number): Promise<(CountableEvent[] | undefined)[]> {
    return Promise.all(
      Array.from({ length: chunks }, async (_, i) => (await readChunk(db, batchId, i))?.events),
    );
  }

  it('reads back every event, type and millisecond as written, unreadable ones as null', async () => {
    const event = fc.oneof(
      {
        weight: 9,
        arbitrary: fc.tuple(
          fc.string({ minLength: 1, maxLength: 12 }),
          fc.integer({ min: -8.64e15, max: 8.64e15 }),
        ),
      },
      { weight: 1, arbitrary: fc.constant(null) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 60 }),
        fc.integer({ min: 1, max: 25 }),
        async (events, perChunk) => {
          const batchId = `b${++batch}`;
          const writer = new ChunkWriter(db, batchId, perChunk);
          await writer.add(events);
          await writer.flush();
          const chunks = Math.ceil(events.length / perChunk);
          const read = await readAll(batchId, chunks);
          expect(read.every((chunk) => chunk !== undefined)).toBe(true);
          expect(read.flatMap((chunk) => chunk ?? [])).toEqual(events);
          expect(await readChunk(db, batchId, chunks)).toBeUndefined();
        },
      ),
      { numRuns: 40 },
    );
  });

  /** One chunk (number 0) of two events: click at 1 ms, view at 2 ms. */
  async function writeClickAndView(batchId: string): Promise<void> {
    const writer = new ChunkWriter(db, batchId, 10);
    await writer.add([
      ['click', 1],
      ['view', 2],
    ]);
    await writer.flush();
  }

  it('marks a document whose binaries disagree with its count as damaged (one more null)', async () => {
    await writeClickAndView('short');
    await db
      .collection<RawEventChunk>(RAW_EVENT_CHUNKS_COLLECTION)
      .updateOne({ _id: 'short:0' }, { $set: { count: 3 } });
    expect((await readChunk(db, 'short', 0))?.events).toEqual([['click', 1], ['view', 2], null]);
  });

  it('reads a document with a cut-off binary as damaged, without throwing', async () => {
    await writeClickAndView('cut');
    // Two and a half type indexes beside three timestamps.
    const timestamps = Buffer.alloc(24);
    [1, 2, 3].forEach((millis, i) => timestamps.writeDoubleLE(millis, i * 8));
    await db
      .collection<RawEventChunk>(RAW_EVENT_CHUNKS_COLLECTION)
      .updateOne(
        { _id: 'cut:0' },
        { $set: { count: 3, typeIndexes: new Binary(Buffer.alloc(10)), timestamps: new Binary(timestamps) } },
      );
    expect((await readChunk(db, 'cut', 0))?.events).toEqual([['click', 1], ['click', 2], null]);
  });
});
