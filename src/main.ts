import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHttpServer, openRuntime, runClaimSweep, runWorkers, type Runtime } from './compose';
import { ConfigError, loadConfig, loadDotEnv, type Config } from './config';
import { createLogger, type Logger } from './logging';
import { BrokenCollectionError, isMongoUnavailable } from './mongo';
import { UserHashKeyMismatchError } from './events/userHashKey';
import type { RunningWorkers } from './workers/startWorkers';

type Role = 'all' | 'api' | 'worker';

function parseRole(arg: string | undefined): Role {
  if (arg === undefined || arg === 'all') return 'all';
  if (arg === 'api' || arg === 'worker') return arg;
  process.stderr.write(`Unknown role "${arg}": expected all, api or worker\n`);
  process.exit(2);
}

function readConfig(): Config {
  loadDotEnv();
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nSee .env.example for every setting.\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** How long start-up keeps trying to reach MongoDB (restarting with the service, say) before it gives up. */
const STARTUP_WAIT_MS = 60_000;

async function openRuntimeWhenReachable(config: Config, logger: Logger): Promise<Runtime> {
  const deadline = Date.now() + STARTUP_WAIT_MS;
  for (;;) {
    try {
      return await openRuntime(config, logger);
    } catch (error) {
      if (!isMongoUnavailable(error) || Date.now() > deadline) throw error;
      logger.warn('MongoDB is not reachable yet; trying again', {
        err: error,
      });
      await sleep(1000);
    }
  }
}

function listen(runtime: Runtime): Promise<Server> {
  const { host, port } = runtime.config.http;
  const server = createHttpServer(runtime);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function closeServer(server: Server, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    // Idle keep-alive sockets would hold close() open; in-flight requests still finish.
    server.closeIdleConnections();
    logger.info('http server stopped accepting connections');
  });
}

async function main(): Promise<void> {
  const role = parseRole(process.argv[2]);
  const config = readConfig();
  const logger = createLogger({ level: config.logLevel, role });

  let runtime: Runtime;
  try {
    runtime = await openRuntimeWhenReachable(config, logger);
  } catch (error) {
    logger.error(
      error instanceof BrokenCollectionError
        ? 'cannot start: a collection is broken'
        : error instanceof UserHashKeyMismatchError
          ? `cannot start: ${error.message}`
          : 'cannot connect to MongoDB at start-up',
      { err: error },
    );
    process.exit(1);
  }

  let server: Server | undefined;
  let workers: RunningWorkers | undefined;
  if (role !== 'api') workers = runWorkers(runtime);
  let recovery: { stop(): void } | undefined;
  if (role !== 'worker') {
    recovery = runClaimSweep(runtime);
    server = await listen(runtime);
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.http.port;
    const shownHost = config.http.host === '0.0.0.0' ? 'localhost' : config.http.host;
    logger.info('listening', { url: `http://${shownHost}:${port}` });
    process.stdout.write(
      `\nEvent Metrics Service is up: http://${shownHost}:${port}  (API docs: /api-docs)\n`,
    );
    if (config.admin.generated) {
      process.stdout.write(
        `ADMIN_API_KEY was not set; this run uses the generated key: ${config.admin.apiKey}\n\n`,
      );
    }
  }

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown timed out; exiting', { timeoutMs: config.shutdownTimeoutMs });
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    recovery?.stop();
    if (server) await closeServer(server, logger);
    if (workers) await workers.close();
    await runtime.close();
    logger.info('stopped');
    clearTimeout(force);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void shutdown(signal);
    });
  }
}

void main();
