import { MongoBulkWriteError, MongoClient, MongoNetworkError, MongoServerError } from 'mongodb';
import { isMongoUnavailable } from '../src/mongo';
import { testConfig } from './support/testConfig';

/**
 * How a database failure reaches us decides between 503 and 500. An unordered insertMany whose
 * connection closes mid-write fails as a whole: the driver wraps the network error in a
 * MongoBulkWriteError that keeps only its message (seen in the mid-upload fault test).
 */
describe('isMongoUnavailable', () => {
  const config = testConfig();
  let client: MongoClient;
  let duplicate: MongoBulkWriteError;

  beforeAll(async () => {
    client = await new MongoClient(config.mongo.uri).connect();
    const items = client.db(config.mongo.dbName).collection<{ _id: string }>('items');
    await items.insertOne({ _id: 'a' });
    const error: unknown = await items
      .insertMany([{ _id: 'a' }, { _id: 'b' }], { ordered: false })
      .catch((e: unknown) => e);
    if (!(error instanceof MongoBulkWriteError)) throw new Error('expected a bulk write error');
    duplicate = error;
  });
  afterAll(async () => {
    await client.db(config.mongo.dbName).dropDatabase();
    await client.close();
  });

  it('does not count a bulk write with per-document errors (a duplicate key) as unavailable', () => {
    expect(isMongoUnavailable(duplicate)).toBe(false);
  });

  it('counts a bulk write that lost its connection as unavailable', () => {
    const lost = new MongoBulkWriteError(
      new MongoNetworkError('connection 1 to 127.0.0.1:1 closed'),
      duplicate.result,
    );
    expect(isMongoUnavailable(lost)).toBe(true);
  });

  it('counts a server that is shutting down as unavailable, but not a bad value', () => {
    expect(isMongoUnavailable(new MongoServerError({ message: 'shutting down', code: 91 }))).toBe(true);
    expect(isMongoUnavailable(new MongoServerError({ message: 'bad value', code: 2 }))).toBe(false);
  });
});
