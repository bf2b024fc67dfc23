import { removeTestStack } from './testStacks';

/** Stops the throwaway stack that globalSetup started (none when one was given from outside). */
export default async function globalTeardown(): Promise<void> {
  for (const dir of [process.env.TEST_STACK_DIR, process.env.TEST_CLUSTER_DIR]) {
    if (dir !== undefined) await removeTestStack(dir);
  }
}
