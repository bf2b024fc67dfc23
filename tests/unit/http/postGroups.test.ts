import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UploadBatchInput, UploadBatchResult } from '../../../src/commands/uploadBatch/uploadBatch';
import { createPostGroups } from '../../../src/http/postGroups';
import { createLogger } from '../../../src/logging';

/**
 * With no group window (the default), posts still share a batch when they arrive while a group is
 * waiting for a store slot: one store at a time here, so the two posts sent during the first
 * store go in one group.
 */
describe('post groups without a window', () => {
  let spoolDir: string;
  beforeAll(async () => {
    spoolDir = await mkdtemp(join(tmpdir(), 'post-groups-'));
  });
  afterAll(async () => {
    await rm(spoolDir, { recursive: true, force: true });
  });

  const event = (n: number) => ({
    key: n.toString(16).padStart(64, '0'),
    userId: `u${n}`,
    eventType: 'click',
    timestamp: Date.UTC(2024, 0, 15),
    metadata: {},
  });

  it('stores the first post alone and groups the posts that arrive while a store is busy', async () => {
    const stores: { rows: number; release: () => void }[] = [];
    const uploadBatch = (input: UploadBatchInput): Promise<UploadBatchResult> =>
      new Promise((resolve) => {
        const batchId = `batch-${stores.length + 1}`;
        stores.push({
          rows: input.totalRows,
          release: () => {
            resolve({ batchId, newEvents: 0, duplicates: input.totalRows, suppressedEvents: 0 });
          },
        });
      });
    const groups = createPostGroups({
      uploadBatch,
      spoolDir,
      logger: createLogger({ level: 'error', role: 'test' }),
      windowMs: 0,
      maxEvents: 1000,
      maxWaiting: 100_000,
      storesInFlight: 1,
    });
    const until = async (done: () => boolean): Promise<void> => {
      for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(done()).toBe(true);
    };

    const first = groups.submit([event(1)], 'a');
    await until(() => stores.length === 1);
    const second = groups.submit([event(2)], 'b');
    // Past the (empty) window, the second post's group waits for the slot, and the third joins it.
    await new Promise((r) => setTimeout(r, 50));
    const third = groups.submit([event(3), event(4)], 'c');
    await new Promise((r) => setTimeout(r, 50));
    expect(stores).toHaveLength(1);
    stores[0]?.release();
    expect((await first).batchId).toBe('batch-1');
    await until(() => stores.length === 2);
    expect(stores[1]?.rows).toBe(3);
    stores[1]?.release();
    expect((await second).batchId).toBe('batch-2');
    expect((await third).batchId).toBe('batch-2');
  });
});
