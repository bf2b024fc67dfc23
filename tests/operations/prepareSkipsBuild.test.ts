import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/**
 * `npm start` and `npm run rebuild-projections` go through scripts/prepare.mjs; with dist/ built
 * by the test stack's setup and nothing changed since, it must not run tsc again.
 */
test('prepare.mjs leaves a current dist/ alone', () => {
  const done = spawnSync(process.execPath, [join(root, 'scripts', 'prepare.mjs')], {
    cwd: root,
    encoding: 'utf8',
  });
  expect({ status: done.status, stderr: done.stderr }).toEqual({ status: 0, stderr: '' });
});
