// Runs before `npm start`, `npm test`, `npm run stack`, `npm run rebuild-projections` and
// `npm run bench`: installs the npm dependencies when node_modules is missing or older than
// package-lock.json, then builds dist/ (the service) and dist-dev/ (the local stack launcher, dev/)
// unless they are current. `--build-only` skips the install check
// (the test stack's global setup builds through this too).
// Plain JavaScript, because it runs before TypeScript is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const run = (command, args) => {
  const done = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (done.status !== 0) process.exit(done.status ?? 1);
};

// Directories count too: deleting or renaming a file changes only its folder's time.
const newestMtime = (path) => {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
};

// Written only after tsc succeeded, with the time the build started: a failed build (tsc still
// emits) or a file saved during the build leaves dist/ stale.
const stamp = join(root, 'dist', '.build-stamp');
const buildInputs = [
  'src',
  'dev',
  'tsconfig.json',
  'tsconfig.build.json',
  'tsconfig.dev.json',
  'package-lock.json',
];
const distIsCurrent = () =>
  existsSync(stamp) &&
  existsSync(join(root, 'dist', 'main.js')) &&
  existsSync(join(root, 'dist-dev', 'startService.js')) &&
  statSync(stamp).mtimeMs >= Math.max(...buildInputs.map((input) => newestMtime(join(root, input))));

if (!process.argv.includes('--build-only')) {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(marker) || statSync(join(root, 'package-lock.json')).mtimeMs > statSync(marker).mtimeMs) {
    process.stderr.write('prepare: installing npm dependencies (npm ci)...\n');
    run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
  }
}
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (existsSync(tsc)) {
  if (!distIsCurrent()) {
    process.stderr.write('prepare: building dist/ and dist-dev/...\n');
    const started = new Date();
    run(process.execPath, [tsc, '-p', 'tsconfig.build.json']);
    run(process.execPath, [tsc, '-p', 'tsconfig.dev.json']);
    writeFileSync(stamp, `${started.toISOString()}\n`);
    utimesSync(stamp, started, started);
  }
} else if (!existsSync(join(root, 'dist', 'main.js'))) {
  process.stderr.write(
    'prepare: dist/ is missing and TypeScript is not installed (npm ci without --omit=dev builds it)\n',
  );
  process.exit(1);
}
// else: a production install (npm ci --omit=dev) of a built image: run dist/ as it is.
