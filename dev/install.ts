import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { StackError } from './daemons';

/**
 * Finds or installs what the local stack runs: redis-server and PostgreSQL from Debian's packages
 * (when root with apt-get), FerretDB built from the Go module proxy (tools/ferretdb).
 */

type Say = (line: string) => void;

export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, command);
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function aptInstall(packages: string[], say: Say): void {
  if (!isRoot() || onPath('apt-get') === undefined) {
    throw new StackError(
      `${packages.join(' ')} is missing. Install it (Debian/Ubuntu: sudo apt-get install ${packages.join(' ')}; ` +
        'macOS: brew install redis postgresql) or set MONGODB_URI and REDIS_URL to servers of your own.',
    );
  }
  say(`installing Debian's ${packages.join(' ')} package (first time only)...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', ...packages],
  ]) {
    const done = spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
    if (done.status !== 0) throw new StackError(`apt-get ${args.join(' ')} failed (exit ${done.status})`);
  }
}

export function ensureRedisServer(say: Say): string {
  const found = onPath('redis-server');
  if (found !== undefined) return found;
  aptInstall(['redis-server'], say);
  return onPath('redis-server') ?? 'redis-server';
}

/** redis-cli (Debian's redis-tools, which redis-server depends on), for joining a local Redis Cluster. */
export function ensureRedisCli(say: Say): string {
  const found = onPath('redis-cli');
  if (found !== undefined) return found;
  aptInstall(['redis-tools'], say);
  return onPath('redis-cli') ?? 'redis-cli';
}

/** The bin folder of the newest PostgreSQL server (Debian keeps them in /usr/lib/postgresql/N/bin). */
function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(base, versions[0], 'bin');
  }
  const initdb = onPath('initdb');
  return initdb === undefined ? undefined : dirname(initdb);
}

export function ensurePostgres(say: Say): string {
  const found = postgresBinDir();
  if (found !== undefined) return found;
  aptInstall(['postgresql'], say);
  const installed = postgresBinDir();
  if (installed === undefined) throw new StackError('PostgreSQL was installed but initdb was not found');
  return installed;
}

const FERRETDB_SOURCES = ['main.go', 'go.mod', 'go.sum'];

/** `.bin/ferretdb`, built from tools/ferretdb when missing or older than its sources. */
export function ensureFerretDb(root: string, say: Say): string {
  const bin = join(root, '.bin', 'ferretdb');
  const toolDir = join(root, 'tools', 'ferretdb');
  const newestSource = Math.max(...FERRETDB_SOURCES.map((f) => statSync(join(toolDir, f)).mtimeMs));
  if (existsSync(bin) && statSync(bin).mtimeMs >= newestSource) return bin;
  if (onPath('go') === undefined) {
    throw new StackError(
      'FerretDB is not built and Go is missing. Install Go >= 1.24 (https://go.dev/doc/install), then run this again.',
    );
  }
  say('building FerretDB v1.24.2 from the Go module proxy (first time only, about a minute)...');
  mkdirSync(dirname(bin), { recursive: true });
  const built = spawnSync('go', ['build', '-o', bin, '.'], {
    cwd: toolDir,
    env: { ...process.env, GOFLAGS: '-mod=mod' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (built.status !== 0) {
    throw new StackError(
      'building FerretDB failed (see above); it needs the Go module proxy to be reachable',
    );
  }
  return bin;
}
