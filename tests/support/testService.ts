import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpServer, openRuntime, runClaimSweep, runWorkers, type Runtime } from '../../src/compose';
import type { Config } from '../../src/config';
import { createLogger } from '../../src/logging';
import type { RunningWorkers } from '../../src/workers/startWorkers';
import { testConfig, type TestTimings } from './testConfig';

export interface TestService {
  baseUrl: string;
  config: Config;
  runtime: Runtime;
  workers: RunningWorkers | undefined;
  /** Stops the server and workers, drops the test database, closes connections. */
  stop(): Promise<void>;
}

/**
 * Runs the real app (and, unless `workers: false`, the real workers) in this process against the
 * throwaway stack, with its own database and Redis prefix.
 */
export async function startTestService(
  options: {
    env?: Record<string, string>;
    timings?: Partial<TestTimings>;
    workers?: boolean;
    keepDatabase?: boolean;
  } = {},
): Promise<TestService> {
  const config = testConfig(options.env, options.timings);
  const logger = createLogger({ level: config.logLevel, role: 'test' });
  const runtime = await openRuntime(config, logger);
  const workers = options.workers === false ? undefined : runWorkers(runtime);
  const recovery = runClaimSweep(runtime);
  const server: Server = createHttpServer(runtime);
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    config,
    runtime,
    workers,
    async stop() {
      recovery.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      if (workers) await workers.close();
      if (options.keepDatabase !== true) {
        await runtime.mongo.db.dropDatabase().catch(() => undefined);
      }
      await runtime.close();
    },
  };
}
