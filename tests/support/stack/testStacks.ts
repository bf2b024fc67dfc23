import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '../../../dev/daemons';
import { stopRedisCluster } from '../../../dev/redisCluster';
import { readStackState, stopStack } from '../../../dev/stack';

export const TEST_STACK_PREFIX = 'ems-test-';

/** Stops a test stack and deletes its folder (and PostgreSQL's, when that had to live elsewhere). */
export async function removeTestStack(dir: string): Promise<void> {
  const dataDir = readStackState(dir)?.postgresDataDir;
  await stopStack(dir);
  await stopRedisCluster(dir);
  rmSync(dir, { recursive: true, force: true });
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
}

/** Test stacks whose Jest run died without its teardown (Ctrl-C, a kill) are removed at the next run. */
export async function removeStaleTestStacks(): Promise<void> {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(TEST_STACK_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const ownerFile = join(dir, 'owner.pid');
    if (!existsSync(ownerFile)) continue;
    const owner = Number(readFileSync(ownerFile, 'utf8').trim());
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
    await removeTestStack(dir);
  }
}
