import type { Db } from 'mongodb';
import { holdsUser } from '../../src/commands/eraseUser/chunkErasure';
import { BATCH_CLAIMS_COLLECTION } from '../../src/commands/uploadBatch/batchClaims';
import { rawEventChunks } from '../../src/events/rawEventChunks';
import { TEST_ADMIN_KEY } from '../support/testConfig';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * An erasure asked while an upload holding the user is storing: the erasure waits for it, so
 * none of the user's events survive, whether a part was inserted before the suppression entry
 * (the erasure takes it out) or after it (the upload drops it).
 */

const ROWS = 20_000;
const EVERY = 50;

function bigCsv(): string {
  const lines = ['userId,eventType,timestamp'];
  for (let i = 0; i < ROWS; i++) {
    const user = i % EVERY === 0 ? 'victim' : `u${i % 997}`;
    lines.push(`${user},click,${new Date(Date.UTC(2024, 0, 15) + i * 1000).toISOString()}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('erasing a user during an upload', () => {
  let service: TestService;
  const db = (): Db => service.runtime.mongo.db;

  beforeAll(async () => {
    service = await startTestService({ workers: false });
  });
  afterAll(async () => {
    await service.stop();
  });

  it('leaves none of the user in raw events or chunks once both answered', async () => {
    const upload = uploadCsv(service.baseUrl, bigCsv());
    await waitFor(
      () => db().collection(BATCH_CLAIMS_COLLECTION).countDocuments({}),
      (n) => n > 0,
      30_000,
      'the upload to be storing',
    );
    const erased = await fetch(`${service.baseUrl}/api/users/erase`, {
      method: 'POST',
      headers: { 'X-API-Key': TEST_ADMIN_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'victim' }),
    });
    const stored = await upload;
    expect(erased.status).toBe(200);
    expect(stored.status).toBe(201);
    const body = stored.body as { totalEvents: number; duplicates: number; suppressedEvents: number };
    expect(body.totalEvents + body.duplicates + body.suppressedEvents).toBe(ROWS);
    const summary = ((await erased.json()) as { summary: { eventsRemoved: number } }).summary;
    // Every event of the victim was either stored and erased, or dropped by the upload.
    expect(summary.eventsRemoved + body.suppressedEvents).toBe(ROWS / EVERY);
    expect(await rawEvents(db()).countDocuments({ userId: 'victim' })).toBe(0);
    const fingerprint = service.runtime.userFingerprint('victim');
    const chunks = await rawEventChunks(db()).find({}).toArray();
    expect(chunks.filter((chunk) => holdsUser(chunk, fingerprint))).toEqual([]);
  }, 120_000);
});
