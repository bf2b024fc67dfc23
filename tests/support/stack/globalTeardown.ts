import { removeTestStack } from './testStacks';

/** Stops the throwaway stack that globalSetup started (none when one was given from outside). */
export default async function globalTeardown(): Promise<void> {
  const dir = process.env.TEST_STACK_DIR;
  if (dir === undefined) return;
  await removeTestStack(dir);
  // Each project that started it runs this teardown; the first one stops it.
  delete process.env.TEST_STACK_DIR;
}
