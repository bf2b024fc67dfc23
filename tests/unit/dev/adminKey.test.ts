import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_KEY_FILE, developmentAdminKey } from '../../../dev/adminKey';
import { loadConfig } from '../../../src/config';

describe('the development admin key', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ems-adminkey-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is generated once, stored with the stack (owner-only) and the same after a restart', () => {
    const stackDir = join(dir, 'stack');
    const first = developmentAdminKey(stackDir);
    expect(first.created).toBe(true);
    expect(first.path).toBe(join(stackDir, ADMIN_KEY_FILE));
    expect(readFileSync(first.path, 'utf8').trim()).toBe(first.key);
    expect(statSync(first.path).mode & 0o777).toBe(0o600);

    const second = developmentAdminKey(stackDir);
    expect(second).toEqual({ key: first.key, path: first.path, created: false });
    // The key passes the same strength rules as one set by hand.
    const config = loadConfig({
      MONGODB_URI: 'mongodb://127.0.0.1:1/',
      REDIS_URL: 'redis://127.0.0.1:2',
      ADMIN_API_KEY: second.key,
    });
    expect(config.admin).toEqual({ apiKey: first.key, generated: false });
  });

  it('replaces a stored file that holds no usable key', () => {
    writeFileSync(join(dir, ADMIN_KEY_FILE), '\n');
    const replaced = developmentAdminKey(dir);
    expect(replaced.created).toBe(true);
    expect(replaced.key.length).toBeGreaterThanOrEqual(16);
  });

  it('still requires a key in production', () => {
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        MONGODB_URI: 'mongodb://127.0.0.1:1/',
        REDIS_URL: 'redis://127.0.0.1:2',
      }),
    ).toThrow(/ADMIN_API_KEY: required in production/);
  });
});
