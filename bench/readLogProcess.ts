import { MongoClient } from 'mongodb';
import { readLogOnce } from './projectionsCaughtUp';

/**
 * Run as a process of its own by the bench: starts, connects to MONGODB_URI / MONGODB_DB, reads the
 * whole log once and exits. The least any rebuild that runs as its own process does, so the bench
 * can show what rebuild-projections costs beyond it.
 */
async function main(): Promise<void> {
  const client = await new MongoClient(process.env.MONGODB_URI ?? '').connect();
  try {
    await readLogOnce(client.db(process.env.MONGODB_DB));
  } finally {
    await client.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`reading the log failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
