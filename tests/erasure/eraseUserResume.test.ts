import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { eraseFromChunk, holdsUser, planChunk } from '../../src/commands/eraseUser/chunkErasure';
import {
  persistPlanItems,
  userErasures,
  type ErasureDoc,
  type PlanItem,
} from '../../src/commands/eraseUser/erasures';
import { sweepErasures } from '../../src/commands/eraseUser/erasureSweep';
import { eraseUserOf } from '../../src/compose';
import { batchKeys, correctionsStream } from '../../src/events/batchHistory';
import { EVENT_LOG_COLLECTION } from '../../src/events/eventLog';
import { rawEventChunks } from '../../src/events/rawEventChunks';
import { fingerprintHex } from '../../src/events/userFingerprint';
import { suppressUser, userSuppressions } from '../../src/events/userSuppressions';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents, uploadCsv } from '../support/uploads';

/**
 * A crash at any point of an erasure: the erasure document is there and some of its steps ran;
 * the sweep finishes it, and every UserErased is appended once.
 */

describe('an erasure cut short', () => {
  let service: TestService;
  const db = (): Db => service.runtime.mongo.db;
  const batchIds: string[] = [];

  beforeAll(async () => {
    // The background sweep only at start: the test runs the sweep itself.
    service = await startTestService({
      workers: false,
      env: { EVENTS_PER_CHUNK: '2', UPLOAD_CLAIM_SWEEP_MS: '3600000' },
    });
    const files = [
      'victim,click,2024-01-15T10:00:00Z\nalice,click,2024-01-15T10:00:00Z\nvictim,view,2024-01-16T10:00:00Z\n',
      'bob,click,2024-01-15T10:00:00Z\nvictim,click,2024-01-17T10:00:00Z\n',
    ];
    for (const rows of files) {
      const reply = await uploadCsv(service.baseUrl, `userId,eventType,timestamp\n${rows}`);
      expect(reply.status).toBe(201);
      batchIds.push(String(reply.body.batchId));
    }
  });
  afterAll(async () => {
    await service.stop();
  });

  it('is finished by the sweep, each batch once, whatever step it stopped after', async () => {
    const fingerprint = service.runtime.userFingerprint('victim');
    const user = fingerprintHex(fingerprint);
    const [first, second] = batchIds as [string, string];
    const doc: ErasureDoc = {
      _id: randomUUID(),
      user,
      userId: 'victim',
      suppress: false,
      requestedAt: new Date(),
      state: 'erasing',
      correlationId: 'crash-test',
      heartbeatAt: new Date(),
      progress: { batchesFound: 0, batchesDone: 0, eventsRemoved: 0 },
    };
    await userErasures(db()).insertOne(doc);
    await suppressUser(userSuppressions(db()), { _id: user, erasedAt: doc.requestedAt, all: false });
    const plan: PlanItem[] = [];
    const persist = async (item: PlanItem): Promise<void> => {
      plan.push(item);
      await persistPlanItems(db(), doc._id, [item]);
    };
    // First batch: every chunk rewritten and its UserErased appended, the raw events not deleted yet.
    const chunksOf = (batchId: string) => rawEventChunks(db()).find({ batchId }).sort({ chunk: 1 }).toArray();
    for (const chunk of await chunksOf(first)) {
      if (holdsUser(chunk, fingerprint)) await eraseFromChunk(db(), chunk._id, fingerprint, persist);
    }
    await service.runtime.eventLog.append({
      type: 'UserErased',
      key: batchKeys.erased(doc._id, first),
      streamId: correctionsStream(first),
      data: {
        erasureId: doc._id,
        user,
        batchId: first,
        chunks: plan.map((item) => ({ chunk: item.chunk, revision: 1, withdrawn: item.withdrawn })),
      },
      correlationId: doc.correlationId,
    });
    // Second batch: the plan item persisted, the chunk not rewritten yet.
    const held = (await chunksOf(second)).find((chunk) => holdsUser(chunk, fingerprint));
    const planned = held === undefined ? undefined : planChunk(held, fingerprint);
    expect(planned).toBeDefined();
    if (planned !== undefined) await persist(planned.item);

    await userErasures(db()).updateOne({ _id: doc._id }, { $set: { heartbeatAt: new Date(0) } });
    const sweep = () =>
      sweepErasures({
        db: db(),
        eraseUser: eraseUserOf(service.runtime),
        logger: service.runtime.logger,
        staleMs: 1000,
      });
    expect(await sweep()).toBe(1);

    const finished = await userErasures(db()).findOne({ _id: doc._id });
    expect(finished).toMatchObject({
      state: 'done',
      summary: { eventsRemoved: 3, batches: 2, days: ['2024-01-15', '2024-01-16', '2024-01-17'] },
    });
    expect(finished).not.toHaveProperty('userId');
    expect(await rawEvents(db()).countDocuments({ userId: 'victim' })).toBe(0);
    const chunks = await rawEventChunks(db()).find({}).toArray();
    expect(chunks.filter((chunk) => holdsUser(chunk, fingerprint))).toEqual([]);
    // Each chunk rewritten once: a resumed step did not take the user out twice.
    expect(chunks.filter((chunk) => chunk.revision !== undefined).map((chunk) => chunk.revision)).toEqual([
      1, 1, 1,
    ]);
    const records = async () =>
      (await db().collection(EVENT_LOG_COLLECTION).find({ type: 'UserErased' }).toArray()).map(
        (r) => (r.data as { batchId: string }).batchId,
      );
    expect((await records()).sort()).toEqual([first, second].sort());

    // Resumed again (two sweeps meeting on it): nothing more.
    await userErasures(db()).updateOne(
      { _id: doc._id },
      { $set: { state: 'erasing', heartbeatAt: new Date(0), userId: 'victim' } },
    );
    expect(await sweep()).toBe(1);
    expect(await records()).toHaveLength(2);
    expect(await userErasures(db()).findOne({ _id: doc._id })).toMatchObject({
      state: 'done',
      summary: { eventsRemoved: 3 },
    });
  });
});
