import { mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newSpoolPath, removeStaleSpools } from '../../../src/commands/uploadBatch/spool';

describe('removeStaleSpools (files left by uploads whose process stopped)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ems-spools-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('removes only our spool files untouched for longer than the limit', async () => {
    const now = Date.now();
    const age = (path: string, ms: number) => {
      writeFileSync(path, '[]\n');
      utimesSync(path, new Date(now - ms), new Date(now - ms));
      return path;
    };
    const stale = age(newSpoolPath(dir), 2 * 3600_000);
    const fresh = age(newSpoolPath(dir), 60_000);
    const foreign = age(join(dir, 'someone-else.ndjson'), 2 * 3600_000);
    expect(await removeStaleSpools(dir, 3600_000, now)).toBe(1);
    expect([existsSync(stale), existsSync(fresh), existsSync(foreign)]).toEqual([false, true, true]);
  });
});
