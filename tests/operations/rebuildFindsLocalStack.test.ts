import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueName } from '../support/testConfig';

const root = join(__dirname, '..', '..');

/**
 * `npm run rebuild-projections` with no MONGODB_URI or REDIS_URL: the service's CLI knows nothing of
 * the local stack, so dev/withLocalStack.ts (its npm script) hands it the running stack's address.
 * The test stack is such a stack, in TEST_STACK_DIR.
 */
function rebuild(stackDir: string): { status: number | null; stderr: string } {
  const done = spawnSync(
    process.execPath,
    [join('dist-dev', 'withLocalStack.js'), join('dist', 'rebuildProjections.js'), '--verify-only'],
    {
      cwd: root,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        STACK_DIR: stackDir,
        MONGODB_DB: uniqueName('t'),
        REDIS_PREFIX: uniqueName('t'),
      },
    },
  );
  return { status: done.status, stderr: done.stderr };
}

const stackDir = process.env.TEST_STACK_DIR;
// A stack given from outside (TEST_MONGODB_URI) has no folder to find it by.
const withStack = stackDir === undefined ? test.skip : test;

withStack('finds the running local stack by its folder', () => {
  const found = rebuild(stackDir ?? '');
  expect(found.stderr).toMatch(/verify: read models match the recount/);
  expect(found.status).toBe(0);
});

test('without a running stack it says what to set, exit code 2', () => {
  const empty = mkdtempSync(join(tmpdir(), 'ems-nostack-'));
  try {
    const missing = rebuild(empty);
    expect(missing.stderr).toMatch(/MONGODB_URI/);
    expect(missing.status).toBe(2);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
