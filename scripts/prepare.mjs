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
process.stderr.write('prepare: building...\n');
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
