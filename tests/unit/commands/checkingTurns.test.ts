import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseCsvToSpool } from '../../../src/commands/uploadBatch/parseCsv';
import { parseEventsToSpool } from '../../../src/commands/uploadBatch/parseEvents';
import { newSpoolPath, SpoolWriter } from '../../../src/commands/uploadBatch/spool';

/**
 * A body that has fully arrived is checked row by row; other work of the process (a health check,
 * a read) must get turns of the event loop meanwhile, not only after the last row. A refused body
 * writes no spool, so no file I/O gives such turns by chance.
 */
describe('checking a large body gives the event loop turns', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ems-turns-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Whether a callback queued for the next turn ran before `work` settled. */
  const otherWorkRanDuring = async (work: () => Promise<unknown>): Promise<boolean> => {
    let settled = false;
    let ranBefore: boolean | undefined;
    setImmediate(() => {
      ranBefore = !settled;
    });
    await work().then(
      () => undefined,
      () => undefined,
    );
    settled = true;
    await new Promise((resolve) => setImmediate(resolve));
    return ranBefore === true;
  };

  it('JSON events: one bad event then many good ones, all in one chunk', async () => {
    const good = JSON.stringify({ userId: 'u1', eventType: 'click', timestamp: 1705312800 });
    const body = `[1,${Array.from({ length: 5000 }, () => good).join(',')}]`;
    const spool = new SpoolWriter(newSpoolPath(dir));
    const ran = await otherWorkRanDuring(() =>
      parseEventsToSpool(Readable.from([Buffer.from(body)]), spool, 'array'),
    );
    await spool.discard();
    expect(ran).toBe(true);
  });

  it('CSV rows: one bad row then many good ones', async () => {
    const csv = `userId,eventType,timestamp\nu0,click,never\n${'u1,click,1705312800\n'.repeat(5000)}`;
    const spool = new SpoolWriter(newSpoolPath(dir));
    const ran = await otherWorkRanDuring(() => parseCsvToSpool(Readable.from([Buffer.from(csv)]), spool));
    await spool.discard();
    expect(ran).toBe(true);
  });
});
