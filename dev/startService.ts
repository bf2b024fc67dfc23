import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { developmentAdminKey } from './adminKey';
import { StackError } from './daemons';
import { loadProjectEnv, PORT_SETTINGS, PROJECT_ROOT, readLocalStackSettings } from './settings';
import { stackStatus, startStack, stopStack } from './stack';

/**
 * `npm start` after the build: starts the local stack when MONGODB_URI / REDIS_URL are not
 * configured, runs the API and the worker in one process (scripts/service.sh), and on
 * Ctrl-C (or SIGTERM) stops the service first and then the servers this run started.
 */

const say = (line: string): void => {
  process.stderr.write(`start: ${line}\n`);
};

async function main(): Promise<number> {
  loadProjectEnv();
  const settings = readLocalStackSettings();
  const want = {
    mongo: !process.env.MONGODB_URI,
    // A Redis Cluster (REDIS_CLUSTER_NODES) is Redis configured: no local Redis then.
    redis: !process.env.REDIS_URL && !process.env.REDIS_CLUSTER_NODES,
  };
  const env: NodeJS.ProcessEnv = { ...process.env };
  let stopAfterwards = false;
  if (want.mongo || want.redis) {
    // A stack already running from this folder (npm run stack -- start) is reused and left running.
    stopAfterwards = Object.values(stackStatus(settings.dir)).every((s) => s === 'stopped');
    const state = await startStack({
      dir: settings.dir,
      ports: settings.ports,
      portSettings: PORT_SETTINGS,
      ephemeral: false,
      want,
      root: PROJECT_ROOT,
      say,
    });
    if (state.mongoUri !== undefined) env.MONGODB_URI = state.mongoUri;
    if (state.redisUrl !== undefined) env.REDIS_URL = state.redisUrl;
  }

  if (env.ADMIN_API_KEY === undefined || env.ADMIN_API_KEY === '') {
    // Production requires its own key (the service refuses to start without one); development
    // keeps one generated key across restarts, stored with the stack's data.
    if (env.NODE_ENV !== 'production') {
      const admin = developmentAdminKey(settings.dir);
      env.ADMIN_API_KEY = admin.key;
      say(
        `ADMIN_API_KEY is not set; ${admin.created ? 'generated a development key and stored it' : 'using the development key stored'} in ${admin.path}: ${admin.key}`,
      );
    }
  }

  // The service's own launcher, so its Node flags come from the build and not from a copy here.
  const service = spawn('bash', [join(PROJECT_ROOT, 'scripts', 'service.sh'), 'all'], {
    stdio: 'inherit',
    env,
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      service.kill(signal);
    });
  }
  const code = await new Promise<number>((resolve) => {
    service.once('exit', (exitCode, signal) => {
      resolve(exitCode ?? (signal === null ? 1 : 128));
    });
  });
  if (stopAfterwards) for (const name of await stopStack(settings.dir)) say(`${name} stopped`);
  return code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`start: ${error instanceof StackError ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
