import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Some tests run the built service (dist/main.js, dist/rebuildProjections.js) as processes of its
 * own; `npx jest FILE` must not run yesterday's build. scripts/prepare.mjs decides whether dist/ is
 * current, as it does for `npm start`.
 */
export function buildDistIfStale(root: string): void {
  execFileSync(process.execPath, [join(root, 'scripts', 'prepare.mjs'), '--build-only'], {
    cwd: root,
    stdio: 'inherit',
  });
}
