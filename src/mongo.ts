import {
  MongoBulkWriteError,
  MongoClient,
  MongoError,
  MongoNetworkError,
  MongoServerSelectionError,
  type Db,
  type WriteError,
} from 'mongodb';

export interface Mongo {
  client: MongoClient;
  db: Db;
}

/** Connects with short timeouts so an unavailable database surfaces as a 503 within seconds. */
export async function connectMongo(uri: string, dbName: string): Promise<Mongo> {
  const client = new MongoClient(uri, {
    // Below two seconds so a request that needs the database answers 503 within two seconds.
    serverSelectionTimeoutMS: 1500,
    connectTimeoutMS: 1500,
    appName: 'event-metrics-service',
  });
  await client.connect();
  return { client, db: client.db(dbName) };
}

/** Server codes that mean "not serving right now" (shutting down, stepping down, unreachable). */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);

/** True for errors that mean "the database is not reachable", as opposed to a bad request. */
export function isMongoUnavailable(error: unknown): boolean {
  if (error instanceof MongoServerSelectionError || error instanceof MongoNetworkError) return true;
  if (error instanceof MongoBulkWriteError) {
    const perDocument = ([] as WriteError[]).concat(error.writeErrors).length > 0;
    if (perDocument || error.err !== undefined) return false;
    // The batch failed as a whole and the driver kept only its cause's message and fields: with
    // no server code it failed in the driver (a connection closed mid-write, a pool cleared).
    return typeof error.code !== 'number' || UNAVAILABLE_CODES.has(error.code);
  }
  if (error instanceof MongoError) {
    const name = error.name;
    return (
      name === 'MongoNotConnectedError' ||
      name === 'MongoTopologyClosedError' ||
      name === 'MongoPoolClearedError' ||
      (typeof error.code === 'number' && UNAVAILABLE_CODES.has(error.code)) ||
      error.hasErrorLabel('RetryableWriteError') ||
      error.hasErrorLabel('ResetPool')
    );
  }
  return false;
}

/** MongoDB's duplicate-key code; FerretDB reports it per write too. */
export const DUPLICATE_KEY = 11000;

export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoError && error.code === DUPLICATE_KEY;
}
