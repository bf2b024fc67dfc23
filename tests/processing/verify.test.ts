import { runWorkers } from '../../src/compose';
import { verifyReadModels } from '../../src/projections/verify';
import type { RunningWorkers } from '../../src/workers/startWorkers';
import { damageChunk } from '../support/damageChunk';
import { projectionsCaughtUp } from '../support/recount';
import { startTestService, type TestService } from '../support/testService';
import { uploadCsv } from '../support/uploads';
import { waitFor } from '../support/waitFor';

/**
 * `rebuild-projections --verify` on batches stored by the real upload (chunks cut in file order,
 * not in key order) with a chunk that failed: the read model is right, so verify must say so; and
 * a chunk document that no longer matches its raw events is reported as such.
 */
describe('verify', () => {
  let service: TestService;
  let workers: RunningWorkers | undefined;
  const db = () => service.runtime.mongo.db;

  beforeAll(async () => {
    service = await startTestService({
      workers: false,
      env: { EVENTS_PER_CHUNK: '5' },
    });
    workers = runWorkers(service.runtime);
  });
  afterAll(async () => {
    await workers?.close();
    await service.stop();
  });

  const batch = async (id: string) =>
    (await (await fetch(`${service.baseUrl}/api/batches/${id}`)).json()) as Record<string, unknown>;

  /** 23 rows over three days in an order unrelated to their keys: five chunks of 5, 5, 5, 5 and 3. */
  function csv(): string {
    const lines = ['userId,eventType,timestamp'];
    for (let i = 0; i < 23; i++) {
      const day = (i * 7) % 3;
      lines.push(
        `user-${(i * 11) % 23},${i % 4 === 0 ? 'purchase' : 'view'},2024-05-0${day + 1}T0${i % 10}:00:00Z`,
      );
    }
    return lines.join('\n');
  }

  it('finds no difference for a batch whose chunk failed, nor after it is processed again', async () => {
    const uploaded = await uploadCsv(service.baseUrl, csv(), { fileName: 'order.csv' });
    const batchId = uploaded.body.batchId as string;
    // Chunk 2 fails for good (an uncountable event), then is put back as the upload stored it.
    const repair = await damageChunk(db(), batchId, 2);
    await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    await waitFor(
      () => batch(batchId),
      (b) => b.status === 'failed' && b.processedEvents === 18,
      60_000,
      'chunk 2 to fail',
    );
    await repair();
    await projectionsCaughtUp(db(), service.runtime.eventLog);
    expect(await verifyReadModels(db(), service.runtime.eventLog)).toEqual([]);

    await fetch(`${service.baseUrl}/api/batches/${batchId}/process`, { method: 'POST' });
    await waitFor(
      () => batch(batchId),
      (b) => b.status === 'completed',
      60_000,
      'the batch to complete',
    );
    await projectionsCaughtUp(db(), service.runtime.eventLog);
    expect(await verifyReadModels(db(), service.runtime.eventLog)).toEqual([]);
  }, 120_000);

  it('reports a chunk document that no longer holds what its upload stored', async () => {
    const uploaded = await uploadCsv(service.baseUrl, csv().replaceAll('2024-05', '2024-06'));
    const batchId = uploaded.body.batchId as string;
    await damageChunk(db(), batchId, 1);
    const differences = await verifyReadModels(db(), service.runtime.eventLog);
    expect(differences).toContain(`batch ${batchId} chunk 1: holds an event that cannot be counted`);
    expect(
      differences.some((d) => d.startsWith(`batch ${batchId} events [`) && d.includes('its raw events')),
    ).toBe(true);
  });
});
