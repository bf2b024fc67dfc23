import { removeTestStack } from './testStacks';

/** Stops the throwaway stack that globalSetup started (none when one was given from outside). */
export default async function globalTeardown(): Promise<void> {
  const dir = process.env.TEST_STACK_DIR;
  if (dir !== undefined) await removeTestStack(dir);
}
