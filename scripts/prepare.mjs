// Runs before `npm start`, `npm test`, `npm run stack` and `npm run bench`: installs the npm
// dependencies when node_modules is missing or older than package-lock.json, then builds dist/.
// Plain JavaScript, because it runs before TypeScript is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const run = (command, args) => {
  const done = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (done.status !== 0) process.exit(done.status ?? 1);
};

const marker = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(marker) || statSync(join(root, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs) {
  process.stderr.write('prepare: installing npm dependencies (npm ci)...\n');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
}
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (existsSync(tsc)) {
  process.stderr.write('prepare: building...\n');
  run(process.execPath, [tsc, '-p', 'tsconfig.build.json']);
} else if (!existsSync(join(root, 'dist', 'main.js'))) {
  process.stderr.write(
    'prepare: dist/ is missing and TypeScript is not installed (npm ci without --omit=dev builds it)\n',
  );
  process.exit(1);
}
// else: a production install (npm ci --omit=dev) of a built image: run dist/ as it is.
