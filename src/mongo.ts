import {
  Binary,
  MongoBulkWriteError,
  MongoClient,
  MongoError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  ReadConcern,
  ReadPreference,
  type Collection,
  type Db,
  type DbOptions,
  type OptionalUnlessRequiredId,
  type MongoClientOptions,
  type WriteError,
} from 'mongodb';

export interface Mongo {
  client: MongoClient;
  db: Db;
  /**
   * What the driver's own monitoring last heard from the servers: `false` once every heartbeat
   * fails (refused, reset, timed out), so /health can tell a slow database from an unreachable one.
   */
  reachable(): { ok: boolean; error: string | null };
}

/**
 * Connects with timeouts for a loaded machine: a database that answers slowly makes requests
 * slower, not failed. The driver's monitor checks the server within connectTimeoutMS, so 10 s
 * keeps a slow handshake from marking a healthy server unknown (a short one did on a loaded
 * machine, and every request then answered 503); a server that cannot be reached fails server selection
 * after 5 s, which is the 503.
 */
/**
 * The concerns every collection inherits (README "MongoDB in production"). Writes are acknowledged
 * once a majority of the replica set has them (`w: 'majority'`, journaled): an acknowledged log
 * record, read-model write or checkpoint survives a failover, because the new primary is elected
 * from that majority. Reads see only majority-committed data (`readConcern: 'majority'`): a
 * projector never folds a record that a failover could roll back, so the read models stay a pure
 * function of the log that survives. Reads go to the primary, the only member that sees the log's
 * head; the driver retries a write or read once across a failover (retryWrites/retryReads).
 */
export const MONGO_CONCERNS: DbOptions & MongoClientOptions = {
  writeConcern: { w: 'majority', journal: true },
  readConcern: new ReadConcern('majority'),
  readPreference: ReadPreference.PRIMARY,
};

export async function connectMongo(uri: string, dbName: string): Promise<Mongo> {
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 5000,
    connectTimeoutMS: 10_000,
    appName: 'event-metrics-service',
    retryWrites: true,
    retryReads: true,
    ...MONGO_CONCERNS,
  });
  const servers = new Map<string, string | null>();
  client.on('serverHeartbeatSucceeded', (event) => servers.set(event.connectionId, null));
  client.on('serverHeartbeatFailed', (event) => servers.set(event.connectionId, event.failure.message));
  await client.connect();
  return {
    client,
    db: client.db(dbName, MONGO_CONCERNS),
    reachable() {
      const errors = [...servers.values()];
      if (errors.length === 0 || errors.some((e) => e === null)) return { ok: true, error: null };
      return { ok: false, error: errors[0] ?? 'no server answers' };
    },
  };
}

/** Server codes that mean "not serving right now" (shutting down, stepping down, unreachable). */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436]);

/**
 * FerretDB passes on its PostgreSQL's connection failures as a generic server error: PostgreSQL's
 * connection-exception class (08), a server shutting down or starting (57P01-57P03), too many
 * connections (53300), or the driver failing to reach it at all.
 */
const POSTGRES_UNAVAILABLE =
  /SQLSTATE (08\w{3}|57P0[123]|53300)|failed to connect to|dial error|connection refused|conn closed|unexpected EOF/;

/** True for errors that mean "the database is not reachable", as opposed to a bad request. */
export function isMongoUnavailable(error: unknown): boolean {
  if (error instanceof MongoServerSelectionError || error instanceof MongoNetworkError) return true;
  if (error instanceof MongoServerError && POSTGRES_UNAVAILABLE.test(error.message)) return true;
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

/**
 * Inserts `docs` with one unordered command; returns the indexes of those whose key was there
 * already. Any other failure is thrown: a bulk error as it came when the batch failed as a whole,
 * otherwise an Error with the first other per-document message (the bulk result, which lists every
 * inserted id, is left out).
 */
export async function insertUnordered<T extends { _id?: unknown }>(
  collection: Collection<T>,
  docs: OptionalUnlessRequiredId<T>[],
): Promise<Set<number>> {
  // The driver refuses an empty insert.
  if (docs.length === 0) return new Set();
  try {
    await collection.insertMany(docs, { ordered: false });
    return new Set();
  } catch (error) {
    if (!(error instanceof MongoBulkWriteError)) throw error;
    const writeErrors: WriteError[] = ([] as WriteError[]).concat(error.writeErrors);
    if (writeErrors.length === 0) throw error;
    const other = writeErrors.find((w) => w.code !== DUPLICATE_KEY);
    if (other !== undefined) throw new Error(other.errmsg ?? `insert failed with code ${other.code}`);
    return new Set(writeErrors.map((w) => w.index));
  }
}

export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoError && error.code === DUPLICATE_KEY;
}

/** MongoDB's "collection already exists" code, answered by createCollection for a collection that exists. */
const NAMESPACE_EXISTS = 48;

/**
 * A half-created collection: FerretDB's own error (its PostgreSQL table exists but FerretDB's
 * catalogue does not list it, because the server died between the two writes of a collection's
 * creation, so every write that would create it fails with "relation ... already exists" for good),
 * or the BrokenCollectionError that explains it.
 */
export function isBrokenCollection(error: unknown): boolean {
  if (error instanceof BrokenCollectionError) return true;
  return error instanceof MongoError && /SQLSTATE 42P07/.test(error.message);
}

/** The PostgreSQL table FerretDB v1 keeps a collection in: its name made safe, plus an FNV-1a hash. */
export function ferretDbTableName(collection: string): string {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(collection, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  const suffix = `_${hash.toString(16).padStart(8, '0')}`;
  const safe = collection.toLowerCase().replace(/[^a-z][^a-z0-9_]*/g, '_');
  return `${safe.slice(0, 63 - suffix.length)}${suffix}`;
}

export class BrokenCollectionError extends Error {
  constructor(
    readonly database: string,
    readonly collection: string,
    cause: unknown,
  ) {
    super(
      `collection ${database}.${collection} is half-created in FerretDB: its PostgreSQL table exists but ` +
        "FerretDB's catalogue does not list it, so every write to it fails. The table can hold no rows; " +
        `drop it in FerretDB's PostgreSQL database (DROP TABLE "${database}"."${ferretDbTableName(collection)}") ` +
        'and start again, or use another MONGODB_DB',
      { cause },
    );
    this.name = 'BrokenCollectionError';
  }
}

/**
 * Creates the collections before any writer needs them, so no write creates one on the fly (a
 * server killed during that lazy creation leaves it broken, see isBrokenCollection).
 */
export async function ensureCollections(db: Db, names: readonly string[]): Promise<void> {
  for (const name of names) {
    try {
      await db.createCollection(name);
    } catch (error) {
      if (error instanceof MongoError && error.code === NAMESPACE_EXISTS) continue;
      if (isBrokenCollection(error)) throw new BrokenCollectionError(db.databaseName, name, error);
      throw error;
    }
  }
}

/** The bytes of a stored binary field (no copy), or an empty buffer for anything else. */
export function bytesOfBinary(value: unknown): Buffer {
  if (!(value instanceof Binary)) return Buffer.alloc(0);
  const bytes = value.buffer.subarray(0, value.length());
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
