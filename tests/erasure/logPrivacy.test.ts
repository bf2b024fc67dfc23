import { createHash, createHmac } from 'node:crypto';
import { EVENT_LOG_COLLECTION } from '../../src/events/eventLog';
import { openRuntime } from '../../src/compose';
import { ChunkJobData } from '../../src/chunkJobs';
import { createLogger } from '../../src/logging';
import { createUserFingerprint, keyedDigest, type UserFingerprint } from '../../src/events/userFingerprint';
import { UserHashKeyMismatchError } from '../../src/events/userHashKey';
import { testConfig, TEST_ADMIN_KEY } from '../support/testConfig';
import { startTestService, type TestService } from '../support/testService';
import { batchStatusOf, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/** The log never names a user by a userId, nor by a fingerprint anyone could recompute. */

const USERS = ['alice@example.com', 'bob@example.com', 'user-42'];

/** The ways 8 bytes of a fingerprint can sit in a record: big-endian, as (high, low) uint32 LE, and as hex. */
function forms(fingerprint: UserFingerprint): Buffer[] {
  const be = Buffer.alloc(8);
  be.writeBigUInt64BE(fingerprint);
  const pairs = Buffer.alloc(8);
  pairs.writeUInt32LE(Number(fingerprint >> 32n), 0);
  pairs.writeUInt32LE(Number(fingerprint & 0xffffffffn), 4);
  return [be, pairs, Buffer.from(fingerprint.toString(16).padStart(16, '0'))];
}

const bareHash = (userId: string): UserFingerprint =>
  createHash('sha256').update(userId, 'utf8').digest().readBigUInt64BE(0);

describe('user fingerprints in the log', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startTestService();
  });
  afterAll(async () => {
    await service.stop();
  });

  it('are keyed: no userId and no bare SHA-256 prefix in any log document, the keyed one is there', async () => {
    const rows = USERS.map((u, i) => `${u},click,2024-01-15T10:0${i}:00Z`);
    const reply = await uploadCsv(service.baseUrl, `userId,eventType,timestamp\n${rows.join('\n')}\n`, {
      query: 'process=true',
    });
    expect(reply.status).toBe(201);
    const batchId = String(reply.body.batchId);
    await waitFor(
      () => batchStatusOf(service.baseUrl, batchId),
      (status) => status === 'completed',
      30_000,
      'batch completed',
    );
    const erased = await fetch(`${service.baseUrl}/api/users/erase`, {
      method: 'POST',
      headers: { 'X-API-Key': TEST_ADMIN_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'user-42' }),
    });
    expect(erased.status).toBe(200);

    const docs = await service.runtime.mongo.db
      .collection(EVENT_LOG_COLLECTION)
      .find({}, { raw: true })
      .toArray();
    const bytes = Buffer.concat(docs.map((doc) => doc as unknown as Buffer));
    expect(docs.length).toBeGreaterThanOrEqual(4);
    for (const userId of USERS) {
      expect(bytes.includes(Buffer.from(userId))).toBe(false);
      for (const form of forms(bareHash(userId))) expect(bytes.includes(form)).toBe(false);
      const keyed = service.runtime.userFingerprint(userId);
      expect(forms(keyed).some((form) => bytes.includes(form))).toBe(true);
    }
  }, 60_000);

  it('is HMAC-SHA256 of the userId, its first 64 bits', () => {
    const key = Buffer.from('k'.repeat(40));
    expect(keyedDigest(key)('user-42').equals(createHmac('sha256', key).update('user-42').digest())).toBe(
      true,
    );
    const long = Buffer.alloc(100, 7);
    expect(keyedDigest(long)('x').equals(createHmac('sha256', long).update('x').digest())).toBe(true);
    expect(createUserFingerprint(key)('user-42')).toBe(
      createHmac('sha256', key).update('user-42').digest().readBigUInt64BE(0),
    );
  });

  it('refuses to start with a USER_HASH_KEY other than the one the data was written with', async () => {
    const logger = createLogger({ level: 'error', role: 'test', silent: true });
    const dbName = service.config.mongo.dbName;
    // The service generated its key at start: a configured one is another key.
    await expect(
      openRuntime(testConfig({ MONGODB_DB: dbName, USER_HASH_KEY: 'x'.repeat(32) }), logger),
    ).rejects.toThrow(UserHashKeyMismatchError);
    const again = await openRuntime(testConfig({ MONGODB_DB: dbName }), logger);
    expect(again.userFingerprint('alice@example.com')).toBe(
      service.runtime.userFingerprint('alice@example.com'),
    );
    await again.close();

    const fresh = testConfig({ USER_HASH_KEY: 'y'.repeat(32) });
    const first = await openRuntime(fresh, logger);
    await expect(openRuntime({ ...fresh, userHashKey: 'z'.repeat(32) }, logger)).rejects.toThrow(
      /does not match/,
    );
    await expect(openRuntime({ ...fresh, userHashKey: undefined }, logger)).rejects.toThrow(/USER_HASH_KEY/);
    await first.mongo.db.dropDatabase();
    await first.close();
  });

  it('chunk job data (queue and dead-letter queue) names no user: only batchId, chunk, round, correlationId, unavailableSince', () => {
    expect(Object.keys(ChunkJobData.shape).sort()).toEqual(
      ['batchId', 'chunk', 'correlationId', 'round', 'unavailableSince'].sort(),
    );
  });
});
