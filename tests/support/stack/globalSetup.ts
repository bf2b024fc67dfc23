import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startRedisCluster } from '../../../dev/redisCluster';
import { startStack } from '../../../dev/stack';
import { buildDistIfStale } from './buildDist';
import { removeStaleTestStacks, TEST_STACK_PREFIX } from './testStacks';

function newTestStackDir(): string {
  const dir = mkdtempSync(join(tmpdir(), TEST_STACK_PREFIX));
  // mkdtemp makes it 0700; the `postgres` user (PostgreSQL as run by root) must reach its folder.
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'owner.pid'), `${process.pid}\n`);
  return dir;
}

/**
 * `npm run test:cluster` (TEST_REDIS_CLUSTER=1): a Redis Cluster of 3 masters with a replica each in
 * a folder of its own, which every test file then uses instead of the single Redis (testEnv sets
 * REDIS_CLUSTER_NODES). The single Redis still runs, for the tests that bring their own Redis.
 */
async function startTestCluster(): Promise<void> {
  const dir = newTestStackDir();
  process.env.TEST_CLUSTER_DIR = dir;
  const cluster = await startRedisCluster({
    dir,
    say: (line) => {
      process.stderr.write(`test stack: ${line}\n`);
    },
  });
  process.env.TEST_REDIS_CLUSTER_NODES = cluster.nodesSetting;
}

/**
 * Jest's global setup: a throwaway stack (PostgreSQL, FerretDB on it, Redis) on free ports in a
 * temporary folder, so `npm test` and `npx jest FILE` need nothing running. Every test file then
 * takes its own database and Redis key prefix on it (tests/support/testConfig.ts). A stack given
 * from outside (TEST_MONGODB_URI and TEST_REDIS_URL set) is used as it is.
 */
export default async function globalSetup(): Promise<void> {
  const root = resolve(__dirname, '..', '..', '..');
  process.env.FERRETDB_BIN ??= join(root, '.bin', 'ferretdb');
  buildDistIfStale(root);
  await removeStaleTestStacks();
  if (process.env.TEST_REDIS_CLUSTER === '1' && !process.env.TEST_REDIS_CLUSTER_NODES) {
    await startTestCluster();
  }
  if (process.env.TEST_MONGODB_URI && process.env.TEST_REDIS_URL) return;
  const dir = newTestStackDir();
  const state = await startStack({
    dir,
    ports: { mongo: 0, redis: 0, postgres: 0 },
    ephemeral: true,
    root,
    say: (line) => {
      process.stderr.write(`test stack: ${line}\n`);
    },
  });
  process.env.TEST_STACK_DIR = dir;
  process.env.TEST_MONGODB_URI = state.mongoUri;
  process.env.TEST_REDIS_URL = state.redisUrl;
  process.env.TEST_POSTGRES_PORT = String(state.ports.postgres);
}
