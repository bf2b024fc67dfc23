import { parseArgs } from 'node:util';
import { StackError } from './daemons';
import { loadProjectEnv, PORT_SETTINGS, PROJECT_ROOT, readLocalStackSettings } from './settings';
import { readStackState, stackStatus, startStack, stopStack } from './stack';

/**
 * `npm run stack -- start|stop|status [--dir DIR] [--ephemeral]`: the local stack by hand. `start`
 * leaves PostgreSQL, FerretDB and Redis running and prints MONGODB_URI and REDIS_URL; ports come
 * from STACK_MONGO_PORT, STACK_REDIS_PORT and STACK_POSTGRES_PORT.
 */

const USAGE = 'usage: npm run stack -- start|stop|status [--dir DIR] [--ephemeral]';

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { dir: { type: 'string' }, ephemeral: { type: 'boolean', default: false } },
  });
  loadProjectEnv();
  const settings = readLocalStackSettings();
  const dir = values.dir ?? settings.dir;
  const say = (line: string): void => {
    process.stderr.write(`stack: ${line}\n`);
  };
  switch (positionals[0]) {
    case 'start': {
      const state = await startStack({
        dir,
        ports: settings.ports,
        portSettings: PORT_SETTINGS,
        ephemeral: values.ephemeral,
        root: PROJECT_ROOT,
        say,
      });
      process.stdout.write(`MONGODB_URI=${state.mongoUri ?? ''}\nREDIS_URL=${state.redisUrl ?? ''}\n`);
      return 0;
    }
    case 'stop':
      for (const name of await stopStack(dir)) say(`${name} stopped`);
      return 0;
    case 'status': {
      const state = readStackState(dir);
      for (const [name, status] of Object.entries(stackStatus(dir)))
        process.stdout.write(`${name}: ${status}\n`);
      if (state?.mongoUri !== undefined) process.stdout.write(`MONGODB_URI=${state.mongoUri}\n`);
      if (state?.redisUrl !== undefined) process.stdout.write(`REDIS_URL=${state.redisUrl}\n`);
      return 0;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`stack: ${error instanceof StackError ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
