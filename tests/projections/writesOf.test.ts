import { MongoClient, type Collection, type Db } from 'mongodb';
import {
  ReadModelDocumentTooLargeError,
  writesOf,
  type Planned,
  type PositionedDoc,
} from '../../src/projections/projection';
import { ReadModelMemory, StaleReadModelMemoryError } from '../../src/projections/readModelMemory';
import { uniqueName } from '../support/testConfig';

/**
 * A page's writes against the real FerretDB: new small documents go in groups, one command each,
 * and a group that meets another writer's documents treats each of them as putOver does.
 */

interface Doc extends PositionedDoc {
  value: string;
}

const docOf = (id: string, lastPosition: number, value = `v${lastPosition}`): Doc => ({
  _id: id,
  lastPosition,
  value,
});

const fresh = (next: Doc, fromMemory = false): Planned<Doc> => ({
  stored: { doc: null, fromMemory },
  next,
  bytes: 100,
});

async function runAll(writes: (() => Promise<void>)[]): Promise<void> {
  for (const write of writes) await write();
}

describe('writesOf (real FerretDB)', () => {
  let client: MongoClient;
  let db: Db;
  let collection: Collection<Doc>;

  beforeAll(async () => {
    client = await new MongoClient(process.env.TEST_MONGODB_URI ?? '').connect();
    db = client.db(uniqueName('writes_of'));
  });
  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });
  beforeEach(async () => {
    collection = db.collection<Doc>(uniqueName('docs'));
    await db.createCollection(collection.collectionName);
  });

  const stored = () => collection.find({}).sort({ _id: 1 }).toArray();

  it('inserts many new documents in a few commands, and remembers each', async () => {
    const docs = Array.from({ length: 1_200 }, (_, i) => docOf(`d${String(i).padStart(4, '0')}`, i + 1));
    const memory = new ReadModelMemory(1024 * 1024);
    memory.startPage(collection.collectionName, 1);
    const writes = writesOf(
      collection,
      docs.map((d) => fresh(d)),
      memory,
    );
    expect(writes.length).toBeLessThan(10);
    await runAll(writes);
    expect(await stored()).toEqual(docs);
    expect(memory.recall('d0042')).toEqual(docs[42]);
  });

  it("leaves another writer's document alone and forgets it; tells only of what landed", async () => {
    await collection.insertOne(docOf('b', 7, 'theirs'));
    const memory = new ReadModelMemory(1024 * 1024);
    memory.startPage(collection.collectionName, 1);
    const landed: string[] = [];
    const planned = ['a', 'b', 'c'].map((id) => ({
      ...fresh(docOf(id, 5)),
      landed: () => landed.push(id),
    }));
    await runAll(writesOf(collection, planned, memory));
    expect(await stored()).toEqual([docOf('a', 5), docOf('b', 7, 'theirs'), docOf('c', 5)]);
    expect(landed).toEqual(['a', 'c']);
    expect(memory.recall('a')).toEqual(docOf('a', 5));
    expect(memory.recall('b')).toBeUndefined();
  });

  it('says the page must be planned again when the memory said a document was not there', async () => {
    const memory = new ReadModelMemory(1024 * 1024);
    memory.startEmpty(collection.collectionName, 1);
    memory.startPage(collection.collectionName, 1);
    // Another writer (one that lost its lease) wrote `b` although this memory began on it empty.
    await collection.insertOne(docOf('b', 7, 'theirs'));
    const writes = writesOf(
      collection,
      ['a', 'b', 'c'].map((id) => fresh(docOf(id, 5), true)),
      memory,
    );
    await expect(runAll(writes)).rejects.toThrow(StaleReadModelMemoryError);
    expect(await stored()).toEqual([docOf('a', 5), docOf('b', 7, 'theirs'), docOf('c', 5)]);
    expect(memory.recall('b')).toBeUndefined();
    expect(memory.recall('never-written')).toBeUndefined();
  });

  it('writes a big new document and a replacement one at a time, conditional on what was read', async () => {
    await collection.insertOne(docOf('r', 3));
    const big = docOf('big', 9, 'x'.repeat(40_000));
    const writes = writesOf(
      collection,
      [
        { stored: { doc: null, fromMemory: false }, next: big, bytes: 40_100 },
        { stored: { doc: docOf('r', 3), fromMemory: false }, next: docOf('r', 9), bytes: 100 },
        // Planned from position 2, which it has left since: left as it is.
        { stored: { doc: docOf('r', 2), fromMemory: false }, next: docOf('r', 8), bytes: 100 },
      ],
      undefined,
    );
    expect(writes).toHaveLength(3);
    await runAll(writes.slice(0, 2));
    await runAll(writes.slice(2));
    expect(await stored()).toEqual([big, docOf('r', 9)]);
  });

  it('refuses a page with a document MongoDB cannot hold, naming it and its size', () => {
    // Past the limit, as a day of 80,000 event types of 250 characters is (docs/production.md).
    const huge = docOf('2024-03-05', 2, 'x'.repeat(17 * 1024 * 1024));
    const small = docOf('2024-03-06', 2);
    const plan = () => writesOf(collection, [fresh(small), fresh(huge)], undefined);
    expect(plan).toThrow(ReadModelDocumentTooLargeError);
    expect(plan).toThrow(/2024-03-05 .* would be 17\.0 MiB, more than the 16\.0 MiB/);
  });
});
