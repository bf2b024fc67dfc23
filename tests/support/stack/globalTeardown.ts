import { removeTestStack } from './testStacks';

/** Stops the throwaway stack that globalSetup started (none when one was given from outside). */
export default async function globalTeardown(): Promise<void> {
  // Each project that started them runs this teardown; the first one stops them.
  const dir = process.env.TEST_STACK_DIR;
  delete process.env.TEST_STACK_DIR;
  const clusterDir = process.env.TEST_CLUSTER_DIR;
  delete process.env.TEST_CLUSTER_DIR;
  for (const each of [dir, clusterDir]) if (each !== undefined) await removeTestStack(each);
}
