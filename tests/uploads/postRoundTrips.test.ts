import { MongoClient, type CommandStartedEvent } from 'mongodb';
import { BATCH_CLAIMS_COLLECTION } from '../../src/commands/uploadBatch/batchClaims';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

/**
 * A post to /api/events costs a small, constant number of MongoDB commands, whatever it holds:
 * counted with the driver's command monitoring on the service's own client (README, "Using it").
 */

/** The number the README states. */
const COMMANDS_PER_POST = 11;

describe('the MongoDB commands of a post', () => {
  let service: TestService;
  // Not monitored: what it reads is not counted.
  let watcher: MongoClient;

  beforeAll(async () => {
    watcher = await MongoClient.connect(process.env.TEST_MONGODB_URI ?? '');
    const uri = new URL(process.env.TEST_MONGODB_URI ?? '');
    uri.searchParams.set('monitorCommands', 'true');
    service = await startTestService({
      workers: false,
      // No background sweep: every command counted is the post's.
      env: { MONGODB_URI: uri.toString(), UPLOAD_CLAIM_SWEEP_MS: '3600000' },
    });
  });
  afterAll(async () => {
    await service.stop();
    await watcher.close();
  });

  /** The claim is marked uploaded after the answer: wait for it, so that its command is counted. */
  async function claimsGone(): Promise<void> {
    const claims = watcher.db(service.runtime.mongo.db.databaseName).collection(BATCH_CLAIMS_COLLECTION);
    await waitFor(
      () => claims.countDocuments({}),
      (left) => left === 0,
      30_000,
      'the claim of the post to be marked uploaded',
    );
  }

  async function commandsOf(events: number, prefix: string): Promise<string[]> {
    const body = Array.from({ length: events }, (_, i) => ({
      userId: `${prefix}${i % 50}`,
      eventType: 'click',
      timestamp: new Date(Date.UTC(2024, 2, 1, 0, 0, i)).toISOString(),
    }));
    const seen: string[] = [];
    const listener = (event: CommandStartedEvent) => seen.push(event.commandName);
    const { client } = service.runtime.mongo;
    client.on('commandStarted', listener);
    try {
      const res = await fetch(`${service.baseUrl}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ totalEvents: events, processingStarted: true });
      await claimsGone();
    } finally {
      client.off('commandStarted', listener);
    }
    return seen;
  }

  it('is the same for 1 event as for 1,000, and no more than the README says', async () => {
    await commandsOf(5, 'warm'); // collections and indexes made by the first post
    const one = await commandsOf(1, 'one');
    const many = await commandsOf(1000, 'many');
    expect(many.length).toBe(one.length);
    expect(one.length).toBeGreaterThan(0);
    expect(one.length).toBeLessThanOrEqual(COMMANDS_PER_POST);
  }, 60_000);
});
