import type { Db } from 'mongodb';
import { holdsUser } from '../../src/commands/eraseUser/chunkErasure';
import { createEraseUser, recordParts } from '../../src/commands/eraseUser/eraseUser';
import {
  erasedBatches,
  erasurePlanItems,
  persistPlanItems,
  summaryOf,
  userErasures,
  type PlanItem,
} from '../../src/commands/eraseUser/erasures';
import { BatchClaims } from '../../src/commands/uploadBatch/batchClaims';
import { detailOf } from '../../src/events/chunkDetail';
import { EVENT_LOG_COLLECTION } from '../../src/events/eventLog';
import { rawEventChunks } from '../../src/events/rawEventChunks';
import { verifyReadModels } from '../../src/projections/verify';
import { projectionsCaughtUp } from '../support/recount';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents, uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * A user in many chunks: the plan is one document per chunk and the batch's UserErased is cut into
 * several records, so neither grows with the user (docs/erasure.md). Chunks of one event and
 * records of one chunk each make the many-parts case small enough for a test.
 */

const VICTIM_EVENTS = 30;

describe('an erasure of a user in many chunks', () => {
  let service: TestService;
  const db = (): Db => service.runtime.mongo.db;
  let batchId = '';

  beforeAll(async () => {
    service = await startTestService({ env: { EVENTS_PER_CHUNK: '1' } });
    const rows: string[] = [];
    for (let i = 0; i < VICTIM_EVENTS; i++) {
      rows.push(
        `victim,${i % 2 === 0 ? 'click' : 'view'},2024-02-0${1 + (i % 3)}T10:${String(i).padStart(2, '0')}:00Z`,
      );
      if (i % 3 === 0) rows.push(`alice,click,2024-02-01T11:${String(i).padStart(2, '0')}:00Z`);
    }
    const reply = await uploadCsv(service.baseUrl, `userId,eventType,timestamp\n${rows.join('\n')}\n`, {
      query: 'process=true',
    });
    expect(reply.status).toBe(201);
    batchId = String(reply.body.batchId);
    await waitFor(
      async () =>
        (await fetch(`${service.baseUrl}/api/batches/${batchId}`).then((r) => r.json())) as {
          status: string;
        },
      (batch) => batch.status === 'completed',
      60_000,
      'the batch completed',
    );
  }, 90_000);

  afterAll(async () => {
    await service.stop();
  });

  it('cuts a batch into records of at most the bound, one chunk per record when each is over it', () => {
    const item = (chunk: number): PlanItem => ({
      batchId: 'b',
      chunk,
      fromRevision: 0,
      withdrawn: detailOf([]),
      events: 0,
    });
    const items = [item(0), item(1), item(2)];
    expect(recordParts(items, 1).map((part) => part.map((i) => i.chunk))).toEqual([[0], [1], [2]]);
    expect(recordParts(items).map((part) => part.map((i) => i.chunk))).toEqual([[0, 1, 2]]);
    expect(recordParts([])).toEqual([]);
  });

  it('replaces a stored plan item only when it was planned from another revision of its chunk', async () => {
    const item = (fromRevision: number, events: number): PlanItem => ({
      batchId: 'b',
      chunk: 7,
      fromRevision,
      withdrawn: detailOf([]),
      events,
    });
    const stored = () => erasurePlanItems(db()).findOne({ _id: 'e:b:7' });
    await persistPlanItems(db(), 'e', [item(0, 1)]);
    // The same revision planned again (a resumed run) is the same item: the stored one stays.
    await persistPlanItems(db(), 'e', [item(0, 2)]);
    expect(await stored()).toMatchObject({ erasureId: 'e', fromRevision: 0, events: 1 });
    // Planned again after another erasure rewrote the chunk: the new item replaces it.
    await persistPlanItems(db(), 'e', [item(1, 3)]);
    expect(await stored()).toMatchObject({ erasureId: 'e', fromRevision: 1, events: 3 });
  });

  it('lists at most so many event types in its summary and counts the rest', async () => {
    const types = ['e', 'a', 'd', 'b', 'c'];
    const withdrawn = detailOf(types.map((type, i) => [type, Date.UTC(2024, 0, 1 + i), 1n]));
    await persistPlanItems(db(), 'listed', [
      { batchId: 'b', chunk: 0, fromRevision: 0, withdrawn, events: types.length },
    ]);
    expect(await summaryOf(db(), 'listed', 3)).toEqual({
      eventsRemoved: 5,
      batches: 1,
      days: ['2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04', '2024-01-05'],
      eventTypes: ['a', 'b', 'c'],
      eventTypesNotListed: 2,
    });
    expect(await summaryOf(db(), 'listed', 5)).not.toHaveProperty('eventTypesNotListed');
  });

  it('keeps its plan in documents of its own and appends one UserErased per part', async () => {
    const eraseUser = createEraseUser({
      db: db(),
      eventLog: service.runtime.eventLog,
      claims: new BatchClaims(db()),
      fingerprintOf: service.runtime.userFingerprint,
      settleWaitMs: 10_000,
      logger: service.runtime.logger,
      recordBytes: 1,
    });
    const { erasureId, done } = await eraseUser.start({ userId: 'victim', correlationId: 'many-chunks' });
    await done;

    const erasure = await userErasures(db()).findOne({ _id: erasureId });
    expect(erasure).toMatchObject({
      state: 'done',
      progress: { batchesFound: 1, batchesDone: 1, eventsRemoved: VICTIM_EVENTS },
      summary: { eventsRemoved: VICTIM_EVENTS, batches: 1, eventTypes: ['click', 'view'] },
    });
    expect(erasure).not.toHaveProperty('plan');
    expect(await erasurePlanItems(db()).countDocuments({ erasureId })).toBe(VICTIM_EVENTS);
    expect(await erasedBatches(db()).find({ erasureId }).toArray()).toEqual([
      { _id: `${erasureId}:${batchId}`, erasureId, batchId, events: VICTIM_EVENTS },
    ]);

    const records = await db().collection(EVENT_LOG_COLLECTION).find({ type: 'UserErased' }).toArray();
    expect(records).toHaveLength(VICTIM_EVENTS);
    expect(new Set(records.map((r) => String(r.key))).size).toBe(VICTIM_EVENTS);
    const named = records.flatMap((r) =>
      (r.data as { chunks: { chunk: number }[] }).chunks.map((c) => c.chunk),
    );
    expect(named).toHaveLength(VICTIM_EVENTS);
    expect(new Set(named).size).toBe(VICTIM_EVENTS);

    const fingerprint = service.runtime.userFingerprint('victim');
    const chunks = await rawEventChunks(db()).find({ batchId }).toArray();
    expect(chunks.filter((c) => holdsUser(c, fingerprint))).toEqual([]);
    expect(await rawEvents(db()).countDocuments({ userId: 'victim' })).toBe(0);

    // Every record taken out of the read models, as a recount of the log and the chunks says.
    await projectionsCaughtUp(db(), service.runtime.eventLog);
    expect(await verifyReadModels(db(), service.runtime.eventLog)).toEqual([]);
    const metrics = (await fetch(`${service.baseUrl}/api/metrics?date=2024-02-01`).then((r) => r.json())) as {
      metrics: { eventType: string; count: number }[];
    };
    expect(metrics.metrics).toEqual([expect.objectContaining({ eventType: 'click', count: 10 })]);

    // Run again (two sweeps meeting on it): the same records, nothing appended twice.
    await userErasures(db()).updateOne({ _id: erasureId }, { $set: { state: 'erasing', userId: 'victim' } });
    await eraseUser.run(erasureId);
    expect(await db().collection(EVENT_LOG_COLLECTION).countDocuments({ type: 'UserErased' })).toBe(
      VICTIM_EVENTS,
    );
    expect(await userErasures(db()).findOne({ _id: erasureId })).toMatchObject({
      progress: { batchesDone: 1, eventsRemoved: VICTIM_EVENTS },
      summary: { eventsRemoved: VICTIM_EVENTS },
    });
  });
});
