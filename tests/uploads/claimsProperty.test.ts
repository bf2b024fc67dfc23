import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import type { Db } from 'mongodb';
import { BatchClaims } from '../../src/commands/uploadBatch/batchClaims';
import { sweepClaims } from '../../src/commands/uploadBatch/claimSweep';
import { createUploadBatch, type UploadBatchResult } from '../../src/commands/uploadBatch/uploadBatch';
import { InFlightKeys } from '../../src/commands/uploadBatch/inFlightKeys';
import { removeSpool } from '../../src/commands/uploadBatch/spool';
import { batchKeys } from '../../src/events/batchHistory';
import { createEventLog } from '../../src/events/eventLog';
import { verifyReadModels } from '../../src/projections/verify';
import { liveBatches, liveMetrics, projectionsCaughtUp, recountRows, sorted } from '../support/recount';
import { eventKey, writeSpool, type SeedRow } from '../support/seedBatch';
import { startTestService, type TestService } from '../support/testService';
import { rawEvents } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * Random overlapping uploads through several instances of the command at once (as several APIs
 * would, each remembering the keys of its own uploads in flight: InFlightKeys), some killed part-way (their instance stops sending anything, heartbeats included) and
 * sent again: every distinct event is stored once, every answer's counts are exact, and the
 * metrics equal a recount.
 */

/** A database handle that stops working at `kill()`, as a process that died would. */
function killable(db: Db): { db: Db; kill(): void } {
  let dead = false;
  const guard = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, prop, receiver) {
        const value: unknown = Reflect.get(t, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]): unknown => {
          if (dead) throw new Error('killed');
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(t, args);
          return prop === 'collection' ? guard(result as object) : result;
        };
      },
    });
  return {
    db: guard(db),
    kill() {
      dead = true;
    },
  };
}

const EXPIRY_MS = 1500;
const PER_JOB = 400;
const DAY0 = Date.UTC(2024, 2, 1);

describe('concurrent overlapping uploads with kills (property)', () => {
  let service: TestService;
  const uploaded: SeedRow[] = [];
  let run = 0;

  beforeAll(async () => {
    service = await startTestService({
      env: {
        UPLOAD_CLAIM_EXPIRY_MS: String(EXPIRY_MS),
        // The property runs the sweep itself after the uploads.
        UPLOAD_CLAIM_SWEEP_MS: '3600000',
        EVENTS_PER_CHUNK: String(PER_JOB),
        PROJECTION_POLL_MS: '300',
      },
    });
  });
  afterAll(async () => {
    await service.stop();
  });
  const db = () => service.runtime.mongo.db;

  // What each API process remembers of its own uploads in flight, shared by its uploads; a killed
  // upload's keys stay there until its command gives up, as in a process whose one upload died.
  const apis = [new InFlightKeys(), new InFlightKeys(), new InFlightKeys()];

  function instance(name: string, handle: Db, inFlightKeys: InFlightKeys) {
    const { config, logger } = service.runtime;
    return createUploadBatch({
      db: handle,
      eventLog: createEventLog(handle),
      claims: new BatchClaims(handle),
      instanceName: name,
      claimExpiryMs: EXPIRY_MS,
      settleWaitMs: 120_000,
      eventsPerChunk: config.processing.eventsPerChunk,
      fingerprintOf: service.runtime.userFingerprint,
      addChunkJobs: () => Promise.reject(new Error('these uploads are processed by the test itself')),
      inFlightKeys,
      logger,
    });
  }

  function rowsOf(prefix: string, from: number, length: number, repeatEvery: number): SeedRow[] {
    const rows: SeedRow[] = [];
    for (let i = from; i < from + length; i++) {
      const row = {
        userId: `${prefix}u${i % 37}`,
        eventType: ['a', 'b', 'c'][i % 3] ?? 'a',
        timestamp: new Date(DAY0 + i * 60_000),
      };
      rows.push(row);
      // Some rows repeat within the file, far enough apart to reach the database.
      if (repeatEvery > 0 && i % repeatEvery === 0) rows.push({ ...row });
    }
    return rows;
  }

  async function send(
    name: string,
    handle: Db,
    rows: SeedRow[],
    killAfterMs: number | null,
    inFlightKeys: InFlightKeys,
  ): Promise<UploadBatchResult | null> {
    const guarded = killable(handle);
    const spoolPath = await writeSpool(rows);
    const timer =
      killAfterMs === null
        ? undefined
        : setTimeout(() => {
            guarded.kill();
          }, killAfterMs);
    try {
      return await instance(
        name,
        guarded.db,
        inFlightKeys,
      )({ spoolPath, fileName: `${name}.csv`, totalRows: rows.length, correlationId: name });
    } catch {
      if (killAfterMs === null) throw new Error(`upload ${name} failed without being killed`);
      return null;
    } finally {
      clearTimeout(timer);
      await removeSpool(spoolPath);
    }
  }

  const upload = fc.record({
    from: fc.integer({ min: 0, max: 3000 }),
    length: fc.integer({ min: 1, max: 2500 }),
    repeatEvery: fc.constantFrom(0, 7, 400),
    instance: fc.integer({ min: 0, max: 2 }),
    killAfterMs: fc.option(fc.integer({ min: 0, max: 400 }), { nil: null }),
    // Uploads of one instance that start apart may meet each other's events through InFlightKeys
    // (tests/uploads/inFlightKeys.test.ts covers that path on purpose).
    startAfterMs: fc.constantFrom(0, 0, 150, 400),
  });

  it('stores and counts every distinct event once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(upload, { minLength: 2, maxLength: 4 }), async (uploads) => {
        run += 1;
        const prefix = `r${run}-`;
        const files = uploads.map((u) => rowsOf(prefix, u.from, u.length, u.repeatEvery));
        const replies = await Promise.all(
          uploads.map(async (u, i) =>
            sleep(u.startAfterMs).then(() =>
              send(
                `api${u.instance}-${run}-${i}`,
                db(),
                files[i] ?? [],
                u.killAfterMs,
                apis[u.instance] ?? new InFlightKeys(),
              ),
            ),
          ),
        );
        // Every killed upload is sent again, through a live instance.
        const answered: { rows: SeedRow[]; result: UploadBatchResult }[] = [];
        for (const [i, reply] of replies.entries()) {
          const rows = files[i] ?? [];
          const result = reply ?? (await send(`resend-${run}-${i}`, db(), rows, null, new InFlightKeys()));
          if (result === null) throw new Error('a re-send failed');
          answered.push({ rows, result });
        }
        // Killed uploads that had made their events final are finished once their claims expire.
        await new Promise((r) => setTimeout(r, EXPIRY_MS + 200));
        const { eventLog, logger } = service.runtime;
        const claims = new BatchClaims(db());
        await sweepClaims({
          db: db(),
          claims,
          eventLog,
          logger,
          fingerprintOf: service.runtime.userFingerprint,
          instanceName: 'sweeper',
          startedAt: 0,
          expiryMs: EXPIRY_MS,
        });

        const distinct = new Set(files.flat().map(eventKey));
        const stored = await rawEvents(db())
          .find({ userId: { $regex: `^${prefix}` } })
          .toArray();
        expect(stored).toHaveLength(distinct.size);
        expect(new Set(stored.map((d) => d._id))).toEqual(distinct);
        for (const { rows, result } of answered) {
          expect(result.newEvents + result.duplicates).toBe(rows.length);
          expect(stored.filter((d) => d.batchId === result.batchId)).toHaveLength(result.newEvents);
        }
        // Every stored event belongs to a batch in the log, and the log's counts add up to them.
        const batchIds = new Set([...stored.map((d) => d.batchId), ...answered.map((a) => a.result.batchId)]);
        let logged = 0;
        for (const batchId of batchIds) {
          const record = await eventLog.findByKey(batchKeys.uploaded(batchId));
          expect(record?.type).toBe('BatchUploaded');
          if (record?.type === 'BatchUploaded') logged += record.data.newEvents;
        }
        expect(logged).toBe(distinct.size);
        uploaded.push(...files.flat());

        for (const batchId of batchIds) {
          const res = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
          expect([200, 202]).toContain(res.status);
        }
        await waitFor(
          () => liveBatches(db()),
          (docs) => [...batchIds].every((id) => docs.some((d) => d._id === id && d.status === 'completed')),
          120_000,
          'every batch completed',
        );
        await projectionsCaughtUp(db(), eventLog);
        expect(sorted(await liveMetrics(db()))).toEqual(sorted(recountRows(uploaded)));
        expect(await verifyReadModels(db(), eventLog)).toEqual([]);
      }),
      { numRuns: 5 },
    );
  }, 900_000);
});
