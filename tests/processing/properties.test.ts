import fc from 'fast-check';
import { allProjections } from '../../src/projections/allProjections';
import { createProcessBatch } from '../../src/commands/processBatch';
import { batchKeys, batchStream } from '../../src/events/batchHistory';
import { planChunks } from '../../src/events/deriveChunks';
import { readChunk } from '../../src/events/readChunks';
import { batchStatusProjection } from '../../src/projections/batchStatus';
import { dailyMetricsProjection } from '../../src/projections/dailyMetrics';
import { metricSeriesProjection } from '../../src/projections/metricSeries';
import { projectInto, targetFor, type ProjectionTarget } from '../../src/projections/projector';
import { countPage } from '../../src/events/corrections';
import { rebuildProjections } from '../../src/projections/rebuild';
import {
  collectionName,
  liveVersion,
  resetCheckpoint,
  saveCheckpoint,
} from '../../src/projections/readModels';
import { verifyReadModels } from '../../src/projections/verify';
import { createProcessChunk } from '../../src/workers/processChunk';
import { liveBatches, liveMetrics, projectionsCaughtUp, recountRows, sorted } from '../support/recount';
import { seedBatch, type SeedRow } from '../support/seedBatch';
import { startTestService, type TestService } from '../support/testService';
import { waitFor } from '../support/waitFor';

const PER_JOB = 3;
const DAY0 = Date.UTC(2024, 0, 1);

const rowArb = fc.record({
  userId: fc.constantFrom('u1', 'u2', 'u3'),
  eventType: fc.constantFrom('click', 'view', 'a.b', '$odd', 'ünïcode'),
  timestamp: fc.integer({ min: DAY0 - 3600_000, max: DAY0 + 3 * 86_400_000 }).map((ms) => new Date(ms)),
});

describe('exactly-once processing (properties against the real stack)', () => {
  let service: TestService;
  const uploaded: SeedRow[] = [];

  beforeAll(async () => {
    service = await startTestService({
      env: { EVENTS_PER_CHUNK: String(PER_JOB), WORKER_CONCURRENCY: '4' },
    });
  });

  afterAll(async () => {
    await service.stop();
  });

  const db = () => service.runtime.mongo.db;
  const log = () => service.runtime.eventLog;

  async function processCall(batchId: string): Promise<number> {
    const res = await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    return res.status;
  }

  it('overlapping files, repeated and concurrent process calls and duplicated deliveries count every event once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { minLength: 0, maxLength: 20 }),
        fc.array(
          fc.record({
            picks: fc.array(fc.nat(), { maxLength: 12 }),
            calls: fc.integer({ min: 1, max: 3 }),
            predeliver: fc.boolean(),
          }),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        async (rows, files) => {
          const batches: { batchId: string; newEvents: number }[] = [];
          const deliver = createProcessChunk({
            eventLog: log(),
            readChunk: (batchId, chunk) => readChunk(db(), batchId, chunk),
            logger: service.runtime.logger,
          });
          for (const file of files) {
            const fileRows = rows.length === 0 ? [] : file.picks.map((i) => rows[i % rows.length] as SeedRow);
            const batch = await seedBatch(service.runtime, fileRows);
            uploaded.push(...fileRows);
            batches.push(batch);
            if (file.predeliver) {
              // A job delivered twice at once, before any process call: still one record per chunk.
              const chunks = await planChunks(
                db(),
                batch.batchId,
                batch.newEvents,
                PER_JOB,
                service.runtime.userFingerprint,
              );
              for (const { chunk } of chunks) {
                const data = { chunk, batchId: batch.batchId, round: 1, correlationId: 'dup-delivery' };
                const [a, b] = await Promise.all([deliver(data), deliver(data)]);
                expect(a.position).toBe(b.position);
                expect([a.appended, b.appended].filter(Boolean).length).toBeLessThanOrEqual(1);
              }
            }
          }
          const statuses = await Promise.all(
            files.flatMap((file, i) =>
              Array.from({ length: file.calls }, () => processCall(batches[i]?.batchId ?? '')),
            ),
          );
          for (const status of statuses) expect([200, 202]).toContain(status);

          await waitFor(
            () => liveBatches(db()),
            (docs) => batches.every((b) => docs.some((d) => d._id === b.batchId && d.status === 'completed')),
            60_000,
            'every batch completed',
          );
          // A late duplicate delivery after completion appends nothing.
          const [first] = batches;
          if (first !== undefined) {
            const [chunk] = await planChunks(
              db(),
              first.batchId,
              first.newEvents,
              PER_JOB,
              service.runtime.userFingerprint,
            );
            if (chunk !== undefined) {
              const head = await log().head();
              const again = await deliver({
                chunk: chunk.chunk,
                batchId: first.batchId,
                round: 1,
                correlationId: 'late',
              });
              expect(again.appended).toBe(false);
              expect(await log().head()).toBe(head);
            }
          }
          await projectionsCaughtUp(db(), log());

          expect(sorted(await liveMetrics(db()))).toEqual(sorted(recountRows(uploaded)));
          for (const doc of await liveBatches(db())) expect(doc.processedEvents).toBe(doc.totalEvents);
          expect(await verifyReadModels(db(), log())).toEqual([]);
        },
      ),
      { numRuns: 6 },
    );
  }, 600_000);

  it('an EventsProcessed for each chunk exists exactly once, whatever the number of calls', async () => {
    const records = [];
    for await (const r of log().readAll()) if (r.type === 'EventsProcessed') records.push(r.key);
    expect(new Set(records).size).toBe(records.length);
  });

  it('a projector that crashes between any two writes and restarts ends with the live read models', async () => {
    const deps = { head: await log().head() };
    expect(deps.head).toBeGreaterThan(0);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 60 }), fc.integer({ min: 1, max: 7 }), async (crashAt, pageSize) => {
        run += 1;
        for (const projection of allProjections()) {
          const live = targetFor(db(), projection, await liveVersion(db(), projection.name));
          const scratch = targetFor(db(), projection, 1000 + run);
          await db()
            .collection(scratch.collectionName)
            .drop()
            .catch(() => undefined);
          await resetCheckpoint(db(), scratch.checkpointId);

          // Apply one write at a time, as the projector does, in pages of `pageSize` records
          // followed by a checkpoint, and abort at write number `crashAt`.
          let writes = 0;
          const step = async (write: () => Promise<void>): Promise<void> => {
            if (writes++ === crashAt) throw new CrashError();
            await write();
          };
          try {
            for (let from = 1; ; from += pageSize) {
              const page = await log().readFrom(from, pageSize);
              const last = page.at(-1);
              if (last === undefined) break;
              for (const write of await projection.planPage(
                db(),
                scratch.collectionName,
                await countPage(log(), page),
              ))
                await step(write);
              await step(() => saveCheckpoint(db(), scratch.checkpointId, last.position, 1));
            }
          } catch (error) {
            if (!(error instanceof CrashError)) throw error;
          }
          // Restart: the real projector loop from whatever checkpoint survived.
          await projectInto(db(), log(), scratch, { fence: 2 });
          expect(await contents(scratch)).toEqual(await contents(live));
          await db().collection(scratch.collectionName).drop();
          await resetCheckpoint(db(), scratch.checkpointId);
        }
      }),
      { numRuns: 10 },
    );
  }, 300_000);

  it('a rebuild switches to fresh collections with identical read models, and --verify finds nothing', async () => {
    const before = {
      metrics: await contents(
        targetFor(db(), dailyMetricsProjection, await liveVersion(db(), 'dailyMetrics')),
      ),
      batches: await contents(targetFor(db(), batchStatusProjection, await liveVersion(db(), 'batchStatus'))),
      series: await contents(
        targetFor(db(), metricSeriesProjection, await liveVersion(db(), 'metricSeries')),
      ),
    };
    const oldVersion = await liveVersion(db(), 'dailyMetrics');
    const results = await rebuildProjections(
      {
        db: db(),
        eventLog: log(),
        redis: service.runtime.redis,
        prefix: service.config.redis.prefix,
        logger: service.runtime.logger,
      },
      allProjections(),
    );
    for (const r of results) expect(r.to).toBe(r.from + 1);
    expect(await liveVersion(db(), 'dailyMetrics')).toBe(oldVersion + 1);
    expect(collectionName('dailyMetrics', oldVersion + 1)).toBe(`daily_metrics_v${oldVersion + 1}`);
    expect(await contents(targetFor(db(), dailyMetricsProjection, oldVersion + 1))).toEqual(before.metrics);
    expect(
      await contents(targetFor(db(), batchStatusProjection, await liveVersion(db(), 'batchStatus'))),
    ).toEqual(before.batches);
    expect(
      await contents(targetFor(db(), metricSeriesProjection, await liveVersion(db(), 'metricSeries'))),
    ).toEqual(before.series);
    expect(await verifyReadModels(db(), log())).toEqual([]);
    expect(sorted(await liveMetrics(db()))).toEqual(sorted(recountRows(uploaded)));

    // The live projectors carry on in the new version.
    const batch = await seedBatch(service.runtime, [
      { userId: 'after', eventType: 'rebuilt', timestamp: new Date(DAY0) },
    ]);
    uploaded.push({ userId: 'after', eventType: 'rebuilt', timestamp: new Date(DAY0) });
    expect(await processCall(batch.batchId)).toBe(202);
    await waitFor(
      () => liveMetrics(db()),
      (m) => m.has(JSON.stringify(['2024-01-01', 'rebuilt'])),
    );
    await projectionsCaughtUp(db(), log());
    expect(sorted(await liveMetrics(db()))).toEqual(sorted(recountRows(uploaded)));
    expect(await verifyReadModels(db(), log())).toEqual([]);
  }, 120_000);

  it('ProcessBatch is a 404 for an id never uploaded', async () => {
    const processBatch = createProcessBatch({
      db: db(),
      eventLog: log(),
      queue: service.runtime.processingQueue,
      redis: service.runtime.redis,
      redisPrefix: service.runtime.config.redis.prefix,
      eventsPerChunk: PER_JOB,
      fingerprintOf: service.runtime.userFingerprint,
      logger: service.runtime.logger,
    });
    await expect(processBatch('never-uploaded', 'c')).rejects.toThrow(/not found/);
    expect(await log().findByKey(batchKeys.uploaded('never-uploaded'))).toBeUndefined();
    expect(await log().readStream(batchStream('never-uploaded'))).toEqual([]);
  });

  /** Every read model document for document, the metric series included: its content never depends on paging. */
  function contents(target: ProjectionTarget): Promise<unknown[]> {
    return db().collection(target.collectionName).find({}).sort({ _id: 1 }).toArray();
  }
});

class CrashError extends Error {}
