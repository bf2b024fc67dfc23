import type { Db } from 'mongodb';
import { BatchClaims } from '../../src/commands/uploadBatch/batchClaims';
import { InFlightKeys } from '../../src/commands/uploadBatch/inFlightKeys';
import { removeSpool } from '../../src/commands/uploadBatch/spool';
import { createUploadBatch } from '../../src/commands/uploadBatch/uploadBatch';
import { createEventLog } from '../../src/events/eventLog';
import { RAW_EVENTS_COLLECTION } from '../../src/events/rawEvents';
import { eventKey, writeSpool, type SeedRow } from '../support/seedBatch';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * InFlightKeys: an upload does not send the database the events that another upload of the same
 * process, still storing, inserted; it sets them aside until that one settles, and counts them as
 * duplicates if it kept them, as new events if it lost them.
 */
describe('events another upload of this process is storing', () => {
  let service: TestService;
  const EXPIRY_MS = 3000;
  const db = () => service.runtime.mongo.db;
  const claims = () => new BatchClaims(db());

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      env: { UPLOAD_CLAIM_EXPIRY_MS: String(EXPIRY_MS), UPLOAD_CLAIM_SWEEP_MS: '3600000' },
    });
  });
  afterAll(async () => {
    await service.stop();
  });

  const rows = (prefix: string, count: number): SeedRow[] =>
    Array.from({ length: count }, (_, i) => ({
      userId: `${prefix}${i}`,
      eventType: 'click',
      timestamp: new Date(Date.UTC(2024, 0, 15, 10, i % 60, Math.floor(i / 60))),
    }));

  /** A database handle that records the keys of every raw event sent to insertMany. */
  function recording(handle: Db): { db: Db; sent: string[] } {
    const sent: string[] = [];
    const db = new Proxy(handle, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (prop !== 'collection' || typeof value !== 'function') return value;
        return (name: string, ...rest: unknown[]) => {
          const collection = handle.collection(name, ...(rest as []));
          if (name !== RAW_EVENTS_COLLECTION) return collection;
          return new Proxy(collection, {
            get(c, p, r) {
              const method: unknown = Reflect.get(c, p, r);
              if (p !== 'insertMany' || typeof method !== 'function') return method;
              return (docs: { _id: string }[], ...args: unknown[]) => {
                sent.push(...docs.map((d) => d._id));
                return (method as (...a: unknown[]) => unknown).apply(c, [docs, ...args]);
              };
            },
          });
        };
      },
    });
    return { db, sent };
  }

  /** What an upload of this process that is storing `rows` under `batchId` has left so far. */
  async function storing(keys: InFlightKeys, batchId: string, held: SeedRow[]): Promise<void> {
    await claims().open({
      _id: batchId,
      holder: 'this-api',
      fileName: 'held.csv',
      totalRows: held.length,
      eventsPerChunk: 500,
      correlationId: 'c',
    });
    await rawEvents(db()).insertMany(
      held.map((r) => ({
        _id: eventKey(r),
        batchId,
        insertGroup: 0,
        userId: r.userId,
        eventType: r.eventType,
        timestamp: r.timestamp,
        metadata: {},
      })),
    );
    keys.begin(batchId);
    keys.inserted(batchId, held.map(eventKey));
  }

  async function upload(keys: InFlightKeys, handle: Db, file: SeedRow[]) {
    const { config, logger } = service.runtime;
    const spoolPath = await writeSpool(file);
    try {
      return await createUploadBatch({
        db: handle,
        eventLog: createEventLog(handle),
        claims: new BatchClaims(handle),
        instanceName: 'this-api',
        claimExpiryMs: EXPIRY_MS,
        settleWaitMs: 120_000,
        eventsPerChunk: config.processing.eventsPerChunk,
        fingerprintOf: service.runtime.userFingerprint,
        addChunkJobs: () => Promise.resolve(),
        inFlightKeys: keys,
        logger,
      })({ spoolPath, fileName: 'file.csv', totalRows: file.length, correlationId: 'c' });
    } finally {
      await removeSpool(spoolPath);
    }
  }

  it('counts them as duplicates once that upload settles, without sending them', async () => {
    const keys = new InFlightKeys();
    keys.begin('another');
    const held = rows('held-', 300);
    await storing(keys, 'held', held);
    const beating = setInterval(() => {
      claims()
        .heartbeat('held', 'this-api')
        .catch(() => undefined);
    }, 500);
    try {
      const { db: handle, sent } = recording(db());
      const fresh = rows('fresh-', 200);
      let answered = false;
      const reply = upload(keys, handle, [...fresh, ...held]).finally(() => {
        answered = true;
      });
      // Its own events inserted, it waits for the held batch's outcome.
      await waitFor(
        () => claims().all(),
        (all) => all.some((c) => c.batchId !== 'held' && c.state === 'inserted'),
        60_000,
        'the upload to store its own events',
      );
      expect(answered).toBe(false);
      expect(new Set(sent)).toEqual(new Set(fresh.map(eventKey)));
      await claims().settle('held', 'inserted');
      expect(await reply).toMatchObject({ newEvents: 200, duplicates: 300 });
      expect(await rawEvents(db()).countDocuments({ batchId: 'held' })).toBe(300);
    } finally {
      clearInterval(beating);
      keys.end('held');
      await claims().markUploaded('held');
    }
  }, 120_000);

  it('stores them itself when that upload stops and its events are collected', async () => {
    const keys = new InFlightKeys();
    keys.begin('another');
    const lost = rows('lost-', 300);
    // No heartbeat: the claim expires, and the upload that waits for it collects its events.
    await storing(keys, 'stopped', lost);
    try {
      const { db: handle, sent } = recording(db());
      const reply = await upload(keys, handle, lost);
      expect(reply).toMatchObject({ newEvents: 300, duplicates: 0 });
      // Sent once, after the collection: not before, while the stopped upload held them.
      expect(sent.sort()).toEqual(lost.map(eventKey).sort());
      const stored = await rawEvents(db())
        .find({ userId: { $regex: '^lost-' } })
        .toArray();
      expect(stored.map((d) => d.batchId)).toEqual(Array.from({ length: 300 }, () => reply.batchId));
    } finally {
      keys.end('stopped');
    }
  }, 120_000);
});
