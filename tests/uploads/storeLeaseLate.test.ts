import { MongoClient, type Db } from 'mongodb';
import {
  STORE_LEASES_COLLECTION,
  StoreLeases,
  type EpochDoc,
} from '../../src/commands/uploadBatch/storeLease';
import { createLogger } from '../../src/logging';
import { testConfig } from '../support/testConfig';

const LEASE_MS = 600_000;

/**
 * A renewal that lands late (a loaded machine) leaves a live upload's lease expired in the
 * database for a moment. Another taker of the same process (the recovery sweep, a waiting
 * upload) took it then and purged the upload that was still storing: a 503 with no fault.
 */
describe('store lease of a live upload whose renewal is late', () => {
  const config = testConfig();
  const logger = createLogger({ level: 'error', role: 'test' });
  let client: MongoClient;
  let db: Db;

  beforeAll(async () => {
    client = await new MongoClient(config.mongo.uri).connect();
    db = client.db(config.mongo.dbName);
  });
  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });

  /** What the database shows while the holder's renewal has not landed: the lease ran out. */
  async function expire(epoch: number, byMs: number): Promise<void> {
    await db
      .collection<EpochDoc>(STORE_LEASES_COLLECTION)
      .updateOne({ _id: epoch }, { $set: { until: new Date(Date.now() - byMs) } });
  }

  it('is not taken by another taker of the same process while its upload holds it', async () => {
    const upload = new StoreLeases(db, LEASE_MS, logger);
    const sweep = new StoreLeases(db, LEASE_MS, logger);
    const held = await upload.tryAcquire('live-upload');
    if (held === undefined) throw new Error('the lease should be free at first');
    await expire(held.epoch, 1000);

    expect(await sweep.tryAcquire('recovery')).toBeUndefined();
    expect(() => {
      held.check();
    }).not.toThrow();

    await held.release();
    const next = await sweep.tryAcquire('recovery');
    expect(next?.epoch).toBe(held.epoch + 1);
    await next?.release();
  });

  it('is taken from a holder of the same process stuck for more than a lease length', async () => {
    const upload = new StoreLeases(db, LEASE_MS, logger);
    const sweep = new StoreLeases(db, LEASE_MS, logger);
    const stuck = await upload.tryAcquire('stuck-upload');
    if (stuck === undefined) throw new Error('the lease should be free');
    await expire(stuck.epoch, LEASE_MS + 1000);

    const taken = await sweep.tryAcquire('recovery');
    expect(taken?.epoch).toBe(stuck.epoch + 1);
    await taken?.release();
    await stuck.release();
  });
});
